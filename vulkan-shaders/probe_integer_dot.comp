#version 450
// Build-time probe: can glslang compile packed int8 dot products?
#extension GL_EXT_integer_dot_product : require
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer B { int b[]; };
void main ()
{
  b[gl_GlobalInvocationID.x] = dotPacked4x8EXT (b[0], b[1]);
}
