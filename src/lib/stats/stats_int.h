/* Internals shared by the files of the stats module: the special functions the distributions
 * are built on. Every function is pure and thread-safe; outside its domain it returns NaN. */
#ifndef RISKD_STATS_INT_H
#define RISKD_STATS_INT_H

#include <stdbool.h>

#define RD__MACHEP 1.11022302462515654042e-16 /* 2^-53 */
#define RD__MAXLOG 7.09782712893383996732e2   /* ln(DBL_MAX) */
#define RD__MINLOG -7.451332191019412076235e2 /* ln(2^-1075) */

/* ln |Gamma(x)| for x > 0 (cephes lgam: the values scipy's own functions are built on). */
double rd__lgam(double x);
/* ln B(a, b) for a, b > 0, without the cancellation of lgam(a) + lgam(b) - lgam(a + b) when
 * a or b is large. */
double rd__lbeta(double a, double b);
/* erf and erfc as cephes computes them (scipy.special.erf, erfc). */
double rd__erf(double x);
double rd__erfc(double x);
/* I_x(a, b) given both x and xc = 1 - x: a caller that knows 1 - x more accurately than
 * 1 - x rounds (Student's t: df / (df + t^2) and t^2 / (df + t^2)) keeps that accuracy. */
double rd__beta_inc2(double a, double b, double x, double xc);

#endif
