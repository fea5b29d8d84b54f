"""Supply side: from crops to potential production.

All functions accept numbers or numpy arrays (any shape; arrays broadcast), so the same code
serves the central estimate and the Monte Carlo draws.
"""
from __future__ import annotations

import numpy as np


def coca_leaf_t(harvested_area_ha, leaf_yield_t_per_ha):
    """Coca leaf production, tonnes per year.

    .. math:: L = A^h \\times y

    ``harvested_area_ha``: area harvested in the year (ha); ``leaf_yield_t_per_ha``: leaf
    (fresh or sun-dried, as the yield) per harvested hectare per year (t/ha).
    """
    return np.multiply(harvested_area_ha, leaf_yield_t_per_ha)


def opium_gum_kg(harvested_area_ha, gum_yield_kg_per_ha):
    """Dry opium gum production, kg per year.

    .. math:: G = A^h \\times y_{gum}
    """
    return np.multiply(harvested_area_ha, gum_yield_kg_per_ha)


def next_stage_kg(processed_quantity, conversion_per_unit):
    """Output of the next stage of the chain, in that stage's unit.

    .. math:: Q_{s+1} = Q^{proc}_s \\times \\kappa_{s \\to s+1}

    Examples: ``processed_quantity`` tonnes of illicit coca leaf x ``conversion_per_unit`` kg pure
    cocaine (hydrochloride equivalent) per tonne of leaf; kilograms of opium gum x kg pure heroin
    per kg of gum.
    """
    return np.multiply(processed_quantity, conversion_per_unit)


HEROIN_PER_MORPHINE = 369.4 / 285.3  # molecular weights of heroin (diacetylmorphine) and morphine base


def heroin_per_kg_gum(morphine_content, lab_efficiency):
    """Kilograms of pure heroin made from one kilogram of dry opium gum.

    .. math:: \\kappa_{gum \\to heroin} = m \\times e \\times \\frac{369.4}{285.3}

    ``morphine_content`` (*m*): morphine in the gum (share of its weight); ``lab_efficiency`` (*e*):
    share of that morphine the laboratories turn into heroin; 369.4 and 285.3 are the molecular
    weights of heroin and morphine (acetylation adds two acetyl groups to each molecule).
    """
    return np.multiply(np.multiply(morphine_content, lab_efficiency), HEROIN_PER_MORPHINE)
