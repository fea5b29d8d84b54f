"""Prices: to US dollars and to pure equivalent, and the price at which ownership changes."""
from __future__ import annotations

import numpy as np


def price_usd_per_kg(price_lcu_per_kg, lcu_per_usd):
    """Price in US dollars at the annual average exchange rate.

    .. math:: p^{USD} = p^{LCU} / e

    ``lcu_per_usd``: local currency units per US dollar, annual average of the price's year
    (pass 1 for prices already in US dollars).
    """
    return np.divide(price_lcu_per_kg, lcu_per_usd)


def price_usd_per_pure_kg(price_usd_per_kg, purity):
    """Purity-adjusted price: US dollars per kilogram of pure drug.

    .. math:: p^* = p / \\pi
    """
    return np.divide(price_usd_per_kg, purity)


def transaction_price_usd_per_pure_kg(home_price_usd_per_pure_kg, abroad_price_usd_per_pure_kg, abroad_share):
    """Average price at which ownership passes between residents and non-residents.

    .. math:: \\bar p_r = (1 - \\varphi)\\, p^*_{home} + \\varphi\\, p^*_{abroad}

    ``abroad_share`` (:math:`\\varphi`): share of the quantity whose ownership changes abroad
    (drugs delivered abroad by residents; or bought abroad by residents).
    """
    return (1.0 - np.asarray(abroad_share)) * home_price_usd_per_pure_kg + np.multiply(
        abroad_share, abroad_price_usd_per_pure_kg
    )
