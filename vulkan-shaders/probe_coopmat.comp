#version 450
// Build-time probe: can glslang compile KHR cooperative matrix code?
#extension GL_KHR_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_memory_scope_semantics : require
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer B { float16_t b[]; };
void main ()
{
  coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> m;
  coopMatLoad (m, b, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
  coopMatStore (m, b, 256, 16, gl_CooperativeMatrixLayoutRowMajor);
}
