"""Per-customer predictions from a buy-till-you-die model (docs/domain.md, "Predictions"). Pure: no I/O.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") for purchases: while alive a
customer buys at a Poisson rate λ ~ Gamma(r, α) and after each purchase drops out with probability
p ~ Beta(a, b). Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") for the spend per purchase. Both
are fitted per shop by maximum likelihood on their closed forms, with numpy and scipy.

Why not a package: lifetimes (0.11.3, 2020) is unmaintained; it imports on Python 3.11 only with a newer
autograd than it was released with. btyd (its fork, last release a 2022 beta) pins autograd 1.4, which
fails to import on Python 3.11 (inspect.getargspec), and pulls in pymc 4. pymc-marketing brings pymc and
pytensor (a C compiler at run time) for what is, here, four and three parameters fitted by maximum
likelihood. numpy and scipy are maintained, install from wheels in seconds, and the estimates agree with
the published ones (tests/unit/customers/test_predictions.py, on the CDNOW sample the papers use).

Inputs per customer, in days: x = repeat purchases (days with a counting order after the first one),
t_x = days from the first to the last of them, T = days from the first to now, and the average spend of
the repeat days. BG/NBD gives a one-time buyer (x = 0) probability 1 of being alive: it lets customers
drop out only right after a purchase. So the predicted at-risk rule reads repeat buyers only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize
from scipy.special import gammaln, hyp2f1

MODEL = "BG/NBD + Gamma-Gamma"
# Measured (tests/unit/customers/test_predictions.py::test_the_minimum_data_recovers_the_expected_orders):
# below these, fits on synthetic shops drawn from known parameters missed the true expected orders by
# more than 20 % in some draws; at them and above, every draw came within.
MIN_BUYERS = 200
MIN_REPEAT_BUYERS = 50

Floats = NDArray[np.float64]
GG_LOG_BOUND = 20.0  # Gamma-Gamma's log-parameters (in units of the mean spend) stay within ±20


@dataclass(frozen=True)
class Summary:
    """The shop's buyers as the models read them (one entry per customer)."""
    x: Floats
    t_x: Floats
    T: Floats
    spend: Floats  # average spend per repeat purchase day (0 for one-time buyers)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float


def _weighted(x: Floats, t_x: Floats, T: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    """Identical (x, t_x, T) rows once, with their count: the likelihood costs per distinct row."""
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(np.float64)


def bgnbd_log_likelihood(m: BgNbd, x: Floats, t_x: Floats, T: Floats) -> Floats:
    """Each customer's log-likelihood under BG/NBD (the paper's equation 6)."""
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = (np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat]))
    result: Floats = a1 + a2 + np.logaddexp(a3, a4)
    return result


def _minimise(negative: Callable[[Floats], float], start: Floats, bound: float | None = None) -> OptimizeResult:
    """Minimise over log-parameters (so they stay positive): L-BFGS-B first; where its line search stops
    short, Nelder-Mead from there. `bound`: the log-parameters kept within ±bound."""
    bounds = [(-bound, bound)] * len(start) if bound is not None else None
    with np.errstate(all="ignore"):
        found = minimize(negative, start, method="L-BFGS-B", bounds=bounds,
                         options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8})
        if not found.success:
            found = minimize(negative, found.x, method="Nelder-Mead", bounds=bounds,
                             options={"maxiter": 10_000, "xatol": 1e-8, "fatol": 1e-12})
    return found


def _fit(negative: Callable[[Floats], float], start: Floats) -> Floats | None:
    """The parameters, or None when the optimiser did not converge."""
    found = _minimise(negative, start)
    if not found.success or not np.all(np.isfinite(found.x)) or np.any(np.abs(found.x) > 30):
        return None
    values: Floats = np.exp(found.x)
    return values


def fit_bgnbd(s: Summary) -> BgNbd | None:
    x, t_x, T, w = _weighted(s.x, s.t_x, s.T)
    scale = max(float(np.mean(T)), 1e-9)  # fit in units of the mean age: a well-scaled problem

    def negative(log_params: Floats) -> float:
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood(BgNbd(r, alpha, a, b), x, t_x / scale, T / scale)
        return float(-(w * ll).sum() / w.sum())

    found = _fit(negative, np.zeros(4))
    if found is None:
        return None
    r, alpha, a, b = (float(v) for v in found)
    return BgNbd(r, alpha * scale, a, b)


def probability_alive(m: BgNbd, x: Floats, t_x: Floats, T: Floats) -> Floats:
    """P(alive | x, t_x, T) (equation 12): 1 for one-time buyers, by the model's construction."""
    odds = np.zeros_like(x)
    repeat = x > 0
    xr = x[repeat]
    odds[repeat] = (m.a / (m.b + xr - 1)) * ((m.alpha + T[repeat]) / (m.alpha + t_x[repeat])) ** (m.r + xr)
    result: Floats = 1.0 / (1.0 + odds)
    return result


def expected_purchases(m: BgNbd, t: float, x: Floats, t_x: Floats, T: Floats) -> Floats:
    """E[purchases in the next t | x, t_x, T] (equation 10)."""
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    odds = np.where(x > 0, (a / np.maximum(b + x - 1, 1e-12)) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    result: Floats = head / (1 + odds)
    return result


def gamma_gamma_log_likelihood(m: GammaGamma, x: Floats, spend: Floats) -> Floats:
    p, q, v = m.p, m.q, m.v
    px = p * x
    result: Floats = (gammaln(px + q) - gammaln(q) + q * np.log(v) - gammaln(px) + (px - 1) * np.log(spend)
                      + px * np.log(x) - (px + q) * np.log(x * spend + v))
    return result


def fit_gamma_gamma(s: Summary) -> GammaGamma | None:
    repeat = (s.x > 0) & (s.spend > 0)
    x, spend = s.x[repeat], s.spend[repeat]
    if len(x) == 0:
        return None
    scale = float(np.mean(spend))  # fit in units of the mean spend

    def negative(log_params: Floats) -> float:
        p, q, v = np.exp(log_params)
        return float(-gamma_gamma_log_likelihood(GammaGamma(p, q, v), x, spend / scale).mean())

    # When orders cost about the same within each customer (p → ∞) or across customers (q, v → ∞) — a
    # shop of one price, say — the likelihood grows along a ridge to infinity and no optimum is reached.
    # Bounded, the fit stops on that ridge, in the model's limit; since the expected spend is a weighted
    # mean of the customer's own average and the population's p·v/(q − 1), that is kept as long as the
    # population's mean lies within the averages seen.
    found = _minimise(negative, np.zeros(3), bound=GG_LOG_BOUND)
    if not np.all(np.isfinite(found.x)):
        return None
    p, q, v = (float(value) for value in np.exp(found.x))
    if not found.success and (q <= 1 or not float(spend.min()) <= p * v * scale / (q - 1) <= float(spend.max())):
        return None
    return GammaGamma(p, q, v * scale)


def expected_spend(m: GammaGamma, x: Floats, spend: Floats) -> Floats:
    """E[spend per purchase | x, average spend] (the population's mean for one-time buyers)."""
    result: Floats = m.p * (m.v + x * spend) / (m.p * x + m.q - 1)
    return result


@dataclass(frozen=True)
class Fitted:
    purchases: BgNbd
    spend: GammaGamma


def enough(s: Summary) -> str | None:
    """Why the shop's data is too little for the models (None: enough)."""
    buyers, repeat = len(s.x), int(np.count_nonzero(s.x > 0))
    if buyers < MIN_BUYERS or repeat < MIN_REPEAT_BUYERS:
        return (f"too few buyers to predict: {buyers} buyers of whom {repeat} bought again; the models need at "
                f"least {MIN_BUYERS} buyers and {MIN_REPEAT_BUYERS} repeat buyers")
    return None


def fit(s: Summary) -> Fitted | str:
    """Both models, or why not."""
    reason = enough(s)
    if reason is not None:
        return reason
    purchases, spend = fit_bgnbd(s), fit_gamma_gamma(s)
    if purchases is None or spend is None:
        return "the models did not converge on this shop's orders"
    if spend.q <= 1 or abs(purchases.a - 1) < 1e-6:
        return "the fitted models have no finite expectation on this shop's orders"
    return Fitted(purchases, spend)


def predict(f: Fitted, s: Summary) -> tuple[Floats, Floats, Floats]:
    """Per customer: probability alive, expected orders in 90 days, expected value over 365 days."""
    alive = probability_alive(f.purchases, s.x, s.t_x, s.T)
    orders_90 = expected_purchases(f.purchases, 90, s.x, s.t_x, s.T)
    value = expected_purchases(f.purchases, 365, s.x, s.t_x, s.T) * expected_spend(f.spend, s.x, s.spend)
    return alive, orders_90, value
