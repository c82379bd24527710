// activations.glsl — the matmul epilogue activations (LlAct in backend.h).

float ll_erf (float x)
{
  // Abramowitz & Stegun 7.1.26 is only 1.5e-7 absolute; use the
  // erfc Chebyshev fit of Numerical Recipes (erfcc), fractional error
  // < 1.2e-7 everywhere, then erf = 1 - erfc.
  float z = abs (x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196
      + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398
      + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0.0 ? 1.0 - r : r - 1.0;
}

float ll_act (float v, uint act)
{
  if (act == 1u) {
    // tanh through exp would overflow to inf/inf for large |u|; clamp first
    // (tanh(10) == 1 in fp32).
    float u = clamp (0.7978845608 * (v + 0.044715 * v * v * v), -10.0, 10.0);
    return 0.5 * v * (1.0 + tanh (u));
  }
  if (act == 2u)
    return 0.5 * v * (1.0 + ll_erf (v * 0.70710678118654752));
  return v;
}
