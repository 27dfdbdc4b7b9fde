/* Double-precision reference layers: naive loops over plain NCHW arrays (see ref_nn.h). */
#include "ref/ref_nn.h"

#include <math.h>
#include <string.h>

int ref_conv2d_out_h(const RefConv *c) { return (c->h + 2 * c->pad - c->kh) / c->stride + 1; }
int ref_conv2d_out_w(const RefConv *c) { return (c->w + 2 * c->pad - c->kw) / c->stride + 1; }

/* Index helpers for (a, b, c, d) row-major arrays. */
static long idx4(int a, int b, int c, int d, int nb, int nc, int nd)
{
  return (((long)a * nb + b) * nc + c) * nd + d;
}

void ref_conv2d_forward(double *y, const double *x, const double *weight, const RefConv *c)
{
  const int oh = ref_conv2d_out_h(c), ow = ref_conv2d_out_w(c);
  for (int n = 0; n < c->n; n++)
    for (int co = 0; co < c->co; co++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          double acc = 0;
          for (int ci = 0; ci < c->ci; ci++)
            for (int ky = 0; ky < c->kh; ky++) {
              const int iy = oy * c->stride - c->pad + ky;
              if (iy < 0 || iy >= c->h) continue;
              for (int kx = 0; kx < c->kw; kx++) {
                const int ix = ox * c->stride - c->pad + kx;
                if (ix < 0 || ix >= c->w) continue;
                acc += x[idx4(n, ci, iy, ix, c->ci, c->h, c->w)] *
                       weight[idx4(co, ci, ky, kx, c->ci, c->kh, c->kw)];
              }
            }
          y[idx4(n, co, oy, ox, c->co, oh, ow)] = acc;
        }
}

/* Scatter every output gradient back along the taps that produced that output. */
void ref_conv2d_backward_data(double *dx, const double *dy, const double *weight, const RefConv *c)
{
  const int oh = ref_conv2d_out_h(c), ow = ref_conv2d_out_w(c);
  memset(dx, 0, sizeof(double) * (size_t)c->n * c->ci * c->h * c->w);
  for (int n = 0; n < c->n; n++)
    for (int co = 0; co < c->co; co++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          const double g = dy[idx4(n, co, oy, ox, c->co, oh, ow)];
          for (int ci = 0; ci < c->ci; ci++)
            for (int ky = 0; ky < c->kh; ky++) {
              const int iy = oy * c->stride - c->pad + ky;
              if (iy < 0 || iy >= c->h) continue;
              for (int kx = 0; kx < c->kw; kx++) {
                const int ix = ox * c->stride - c->pad + kx;
                if (ix < 0 || ix >= c->w) continue;
                dx[idx4(n, ci, iy, ix, c->ci, c->h, c->w)] +=
                    g * weight[idx4(co, ci, ky, kx, c->ci, c->kh, c->kw)];
              }
            }
        }
}

void ref_conv2d_backward_weights(double *dweight, const double *dy, const double *x,
                                 const RefConv *c)
{
  const int oh = ref_conv2d_out_h(c), ow = ref_conv2d_out_w(c);
  for (int co = 0; co < c->co; co++)
    for (int ci = 0; ci < c->ci; ci++)
      for (int ky = 0; ky < c->kh; ky++)
        for (int kx = 0; kx < c->kw; kx++) {
          double acc = 0;
          for (int n = 0; n < c->n; n++)
            for (int oy = 0; oy < oh; oy++) {
              const int iy = oy * c->stride - c->pad + ky;
              if (iy < 0 || iy >= c->h) continue;
              for (int ox = 0; ox < ow; ox++) {
                const int ix = ox * c->stride - c->pad + kx;
                if (ix < 0 || ix >= c->w) continue;
                acc += dy[idx4(n, co, oy, ox, c->co, oh, ow)] *
                       x[idx4(n, ci, iy, ix, c->ci, c->h, c->w)];
              }
            }
          dweight[idx4(co, ci, ky, kx, c->ci, c->kh, c->kw)] = acc;
        }
}

/* Offset of element (n, ch, p) of an (N, C, hw) array. */
static long at3(int n, int ch, int p, int c, int hw) { return ((long)n * c + ch) * hw + p; }

void ref_bn_train_forward(double *y, double *mean, double *var, const double *x,
                          const double *gamma, const double *beta, double eps, int n, int c, int hw)
{
  const double m = (double)n * hw;
  for (int ch = 0; ch < c; ch++) {
    double s = 0;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) s += x[at3(i, ch, p, c, hw)];
    const double mu = s / m;
    double       v  = 0; /* two-pass variance */
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        const double d = x[at3(i, ch, p, c, hw)] - mu;
        v += d * d;
      }
    v /= m;
    const double rstd = 1.0 / sqrt(v + eps);
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        const long k = at3(i, ch, p, c, hw);
        y[k]         = gamma[ch] * (x[k] - mu) * rstd + beta[ch];
      }
    mean[ch] = mu;
    var[ch]  = v;
  }
}

void ref_bn_train_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                           const double *x, const double *mean, const double *var,
                           const double *gamma, double eps, int n, int c, int hw)
{
  const double m = (double)n * hw;
  for (int ch = 0; ch < c; ch++) {
    const double rstd = 1.0 / sqrt(var[ch] + eps);
    double       sdy = 0, sdyx = 0; /* sum dy, sum dy * xhat */
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        const long k = at3(i, ch, p, c, hw);
        sdy += dy[k];
        sdyx += dy[k] * (x[k] - mean[ch]) * rstd;
      }
    if (dgamma) dgamma[ch] = sdyx;
    if (dbeta) dbeta[ch] = sdy;
    if (!dx) continue;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        const long   k    = at3(i, ch, p, c, hw);
        const double xhat = (x[k] - mean[ch]) * rstd;
        dx[k]             = gamma[ch] * rstd / m * (m * dy[k] - sdy - xhat * sdyx);
      }
  }
}

void ref_bn_infer_forward(double *y, const double *x, const double *rmean, const double *rvar,
                          const double *gamma, const double *beta, double eps, int n, int c, int hw)
{
  for (int ch = 0; ch < c; ch++) {
    const double rstd = 1.0 / sqrt(rvar[ch] + eps);
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        const long k = at3(i, ch, p, c, hw);
        y[k]         = gamma[ch] * (x[k] - rmean[ch]) * rstd + beta[ch];
      }
  }
}

void ref_bn_infer_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                           const double *x, const double *rmean, const double *rvar,
                           const double *gamma, double eps, int n, int c, int hw)
{
  for (int ch = 0; ch < c; ch++) {
    const double rstd = 1.0 / sqrt(rvar[ch] + eps);
    double       sdy = 0, sdyx = 0;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        const long k = at3(i, ch, p, c, hw);
        sdy += dy[k];
        sdyx += dy[k] * (x[k] - rmean[ch]) * rstd;
        if (dx) dx[k] = dy[k] * gamma[ch] * rstd;
      }
    if (dgamma) dgamma[ch] = sdyx;
    if (dbeta) dbeta[ch] = sdy;
  }
}

void ref_bn_update_running(double *rmean, double *rvar, const double *mean, const double *var,
                           double momentum, long count, int c)
{
  const double corr = count > 1 ? (double)count / (double)(count - 1) : 1.0;
  for (int ch = 0; ch < c; ch++) {
    rmean[ch] = (1 - momentum) * rmean[ch] + momentum * mean[ch];
    rvar[ch]  = (1 - momentum) * rvar[ch] + momentum * var[ch] * corr;
  }
}

void ref_relu_forward(double *y, const double *x, long len)
{
  for (long i = 0; i < len; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

void ref_relu_backward(double *dx, const double *dy, const double *x, long len)
{
  for (long i = 0; i < len; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}

void ref_add_forward(double *y, const double *a, const double *b, long len)
{
  for (long i = 0; i < len; i++) y[i] = a[i] + b[i];
}

void ref_add_backward(double *da, double *db, const double *dy, long len)
{
  for (long i = 0; i < len; i++) {
    if (da) da[i] = dy[i];
    if (db) db[i] = dy[i];
  }
}

void ref_gap_forward(double *y, const double *x, int n, int c, int hw)
{
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++) {
      double s = 0;
      for (int p = 0; p < hw; p++) s += x[at3(i, ch, p, c, hw)];
      y[(long)i * c + ch] = s / hw;
    }
}

void ref_gap_backward(double *dx, const double *dy, int n, int c, int hw)
{
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int p = 0; p < hw; p++) dx[at3(i, ch, p, c, hw)] = dy[(long)i * c + ch] / hw;
}

void ref_linear_forward(double *y, const double *x, const double *weight, const double *bias, int n,
                        int f, int k)
{
  for (int i = 0; i < n; i++)
    for (int o = 0; o < k; o++) {
      double acc = bias ? bias[o] : 0;
      for (int j = 0; j < f; j++) acc += weight[(long)o * f + j] * x[(long)i * f + j];
      y[(long)i * k + o] = acc;
    }
}

void ref_linear_backward(double *dx, double *dweight, double *dbias, const double *dy,
                         const double *x, const double *weight, int n, int f, int k)
{
  if (dx)
    for (int i = 0; i < n; i++)
      for (int j = 0; j < f; j++) {
        double acc = 0;
        for (int o = 0; o < k; o++) acc += dy[(long)i * k + o] * weight[(long)o * f + j];
        dx[(long)i * f + j] = acc;
      }
  if (dweight)
    for (int o = 0; o < k; o++)
      for (int j = 0; j < f; j++) {
        double acc = 0;
        for (int i = 0; i < n; i++) acc += dy[(long)i * k + o] * x[(long)i * f + j];
        dweight[(long)o * f + j] = acc;
      }
  if (dbias)
    for (int o = 0; o < k; o++) {
      double acc = 0;
      for (int i = 0; i < n; i++) acc += dy[(long)i * k + o];
      dbias[o] = acc;
    }
}

double ref_softmax_ce(double *dlogits, const double *logits, const int *labels, int n, int k)
{
  double loss = 0;
  for (int i = 0; i < n; i++) {
    const double *z  = logits + (long)i * k;
    double        zm = z[0];
    for (int o = 1; o < k; o++) zm = z[o] > zm ? z[o] : zm;
    double s = 0;
    for (int o = 0; o < k; o++) s += exp(z[o] - zm);
    const double lse = zm + log(s);
    loss += lse - z[labels[i]];
    if (dlogits)
      for (int o = 0; o < k; o++)
        dlogits[(long)i * k + o] = (exp(z[o] - lse) - (o == labels[i] ? 1.0 : 0.0)) / n;
  }
  return loss / n;
}
