"""The stock-driven dynamic stock model (flodym): how many units enter, leave and are in use each year for
a target stock and a lifetime distribution, the drawers (retired units kept at home, an inflow-driven
stock), and the material each cohort carries (reference METHODS.md, section 1, step 1)."""

from __future__ import annotations

from dataclasses import dataclass
from math import gamma

import flodym as fd
import numpy as np
import pandas as pd

from .system import REPORT_END

SIMULATION_START = 1980  # 1980-1999 is spin-up, so that the stock of 2000 has an age structure
YEARS = np.arange(SIMULATION_START, REPORT_END + 1)

HIBERNATION_WEIBULL_SHAPE = 1.0  # exponential: a drawer device is discarded with constant yearly odds


def weibull_scale_from_mean(mean_years: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Weibull scale parameter whose distribution has the given mean: scale = mean / Gamma(1 + 1/k)."""
    return np.asarray(mean_years, dtype=float) / np.vectorize(lambda k: gamma(1.0 + 1.0 / k))(shape)


def lifetime_model(dims: fd.DimensionSet, kind: str, mean: np.ndarray, spread: np.ndarray) -> fd.LifetimeModel:
    """A flodym lifetime model whose parameters vary along the last dimension of ``dims`` (products)
    and, where ``mean`` has two dimensions, along the one before it too."""
    param_dims = dims[dims.letters[1:]] if np.ndim(mean) > 1 else dims[dims.letters[-1],]
    mean = np.asarray(mean, dtype=float)
    spread = np.broadcast_to(np.asarray(spread, dtype=float), mean.shape)
    if kind == "weibull":
        return fd.WeibullLifetime(
            dims=dims,
            weibull_scale=fd.FlodymArray(dims=param_dims, values=weibull_scale_from_mean(mean, spread)),
            weibull_shape=fd.FlodymArray(dims=param_dims, values=np.array(spread)),
        )
    if kind == "normal":
        return fd.NormalLifetime(dims=dims, mean=fd.FlodymArray(dims=param_dims, values=mean),
                                 std=fd.FlodymArray(dims=param_dims, values=np.array(spread)))
    if kind == "fixed":
        return fd.FixedLifetime(dims=dims, mean=fd.FlodymArray(dims=param_dims, values=mean))
    raise ValueError(f"Unknown lifetime model {kind!r}; use weibull, normal or fixed.")


def model_dims(middle: int | None, products: list[str]) -> fd.DimensionSet:
    """Time x (regions or samples or lifetime variants, when ``middle`` is given) x products."""
    dims = [fd.Dimension(name="time", letter="t", items=[int(y) for y in YEARS])]
    if middle is not None:
        dims.append(fd.Dimension(name="variant", letter="r", items=list(range(middle))))
    dims.append(fd.Dimension(name="product", letter="g", items=list(products)))
    return fd.DimensionSet(dim_list=dims)


def stock_driven(dims: fd.DimensionSet, lifetime: fd.LifetimeModel, stock: np.ndarray) -> tuple[np.ndarray, ...]:
    """Stock-driven dynamic stock model without negative inflows.

    Solves I(t) = (S(t) - sum_{c<t} I(c) sf(t, c)) / sf(t, t) year by year on flodym's survival
    matrix, but never lets I(t) fall below zero (the known pitfall when the stock falls faster than
    products retire: then the stock stays above the target until retirements catch up). flodym's
    inflow-driven model then gives the stock and outflows, which balance exactly.
    Returns (inflow, outflow, stock) with the shape of ``stock`` (time first).
    """
    sf = lifetime.sf  # (t, cohort, ...)
    inflow = np.zeros_like(stock, dtype=float)
    for i in range(stock.shape[0]):
        remaining = np.einsum("c...,c...->...", sf[i, :i], inflow[:i])
        inflow[i] = np.maximum(0.0, (stock[i] - remaining) / sf[i, i])
    dsm = fd.InflowDrivenDSM(dims=dims, lifetime_model=lifetime, inflow=fd.StockArray(dims=dims, values=inflow))
    dsm.compute()
    return inflow, dsm.outflow.values.copy(), dsm.stock.values.copy()


def hibernation_lifetime(products_table: pd.DataFrame) -> fd.LifetimeModel:
    """Residence time in drawers per product (exponential), on dims (time, product)."""
    dims = model_dims(None, list(products_table["product"]))
    mean = products_table["hibernation_mean_years"].to_numpy(float)
    return lifetime_model(dims, "weibull", mean, np.full(len(mean), HIBERNATION_WEIBULL_SHAPE))


def inflow_driven(lifetime: fd.LifetimeModel, inflow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inflow-driven stock on flodym's survival matrices: (outflow, stock), each (t, X, g).

    ``lifetime`` has dims (time, product) (or its pdf and sf per pair); the inflow (t, X, g) may carry
    any middle dimension (regions or Monte Carlo samples): outflow(t) = sum_c pdf(t, c) I(c),
    stock(t) = sum_c sf(t, c) I(c).
    """
    # Batched matrix products over g (BLAS): several times faster than the equivalent einsum for 1,000 samples.
    by_g = np.moveaxis(inflow, 2, 0)  # (g, c, x)
    outflow = np.moveaxis(np.moveaxis(lifetime.pdf, 2, 0) @ by_g, 0, 2)
    stock = np.moveaxis(np.moveaxis(lifetime.sf, 2, 0) @ by_g, 0, 2)
    return outflow, stock


@dataclass
class Content:
    """Material content by production year: ``kg_per_unit`` (t, p) is the kg of each pair's material
    in a unit made in year t; ``g_of_pair`` (p,) the product of each pair."""

    g_of_pair: np.ndarray
    kg_per_unit: np.ndarray


@dataclass
class MaterialInUse:
    """Material entering, leaving and in the stock in use (t, X, p), kg, each unit carrying the content
    of its production year (cohort)."""

    inflow_kg: np.ndarray
    outflow_kg: np.ndarray
    stock_kg: np.ndarray


def cohort_material(sf: np.ndarray, inflow_u: np.ndarray, content: Content, pairs: np.ndarray) -> MaterialInUse:
    """kg in use by cohort: stock(t) = sum_c sf(t, c) I(c) k(c) on flodym's survival matrix sf (t, c, X, g)
    for the products of ``pairs`` (indices into content); the outflow closes the balance,
    O(t) = I(t) k(t) - (S(t) - S(t-1)), which is the cohort-weighted outflow since S = sum_c sf I."""
    g = content.g_of_pair[pairs]
    k = content.kg_per_unit[:, pairs]  # (c, p)
    inflow_kg = inflow_u[..., g] * k[:, None, :]
    stock_kg = np.einsum("tcxp,cxp->txp", sf[..., g], inflow_kg)
    previous = np.concatenate([np.zeros_like(stock_kg[:1]), stock_kg[:-1]])
    return MaterialInUse(inflow_kg, inflow_kg - (stock_kg - previous), stock_kg)


def use_stock(products_table: pd.DataFrame, target: np.ndarray, lifetime_factor: np.ndarray | None = None,
              lifetime_factor_by_year: np.ndarray | None = None, content: Content | None = None):
    """Stock-driven model of the units in use, one flodym run per kind of lifetime distribution.

    ``target`` is (t, X, g). ``lifetime_factor`` (X, g), when given, scales each product's mean
    lifetime (and spread, for normal distributions) per variant X. ``lifetime_factor_by_year``
    (t, X, g), when given, extends lifetimes from a year on for every cohort still in use (repair:
    flodym's "nurture" factor, Krych et al. 2024). Returns inflow, outflow, stock (t, X, g), and with
    ``content`` also the material in use by cohort (MaterialInUse, (t, X, p)).
    """
    products_table = products_table.reset_index(drop=True)
    products = list(products_table["product"])
    n_x = target.shape[1]
    inflow, outflow, stock = (np.zeros_like(target, dtype=float) for _ in range(3))
    if content is not None:
        n_p = content.kg_per_unit.shape[1]
        material = MaterialInUse(*(np.zeros((target.shape[0], n_x, n_p)) for _ in range(3)))
    for kind, group in products_table.groupby("lifetime_model"):
        idx = group.index.to_numpy()
        mean = group["lifetime_mean_years"].to_numpy(float)
        spread = group["lifetime_spread"].to_numpy(float)
        if lifetime_factor is not None:
            mean = lifetime_factor[:, idx] * mean  # (X, g)
            spread = lifetime_factor[:, idx] * spread if kind == "normal" else np.broadcast_to(spread, mean.shape)
        dims = model_dims(n_x, [products[i] for i in idx])
        lifetime = lifetime_model(dims, kind, mean, spread)
        if lifetime_factor_by_year is not None and not np.allclose(lifetime_factor_by_year[..., idx], 1.0):
            lifetime.lt_factor_by_year = fd.FlodymArray(dims=dims, values=lifetime_factor_by_year[..., idx].copy())
        inflow[..., idx], outflow[..., idx], stock[..., idx] = stock_driven(dims, lifetime, target[..., idx])
        if content is not None:
            local = np.full(len(products), -1)
            local[idx] = np.arange(len(idx))
            pairs = np.flatnonzero(np.isin(content.g_of_pair, idx))
            part = cohort_material(lifetime.sf, inflow[..., idx],
                                   Content(local[content.g_of_pair], content.kg_per_unit), pairs)
            material.inflow_kg[..., pairs], material.outflow_kg[..., pairs], material.stock_kg[..., pairs] = \
                part.inflow_kg, part.outflow_kg, part.stock_kg
    if content is not None:
        return inflow, outflow, stock, material
    return inflow, outflow, stock
