"""Demand side and seizures, in pure-equivalent kilograms."""
from __future__ import annotations

import numpy as np


def past_year_users(population, past_year_prevalence):
    """Number of people who used the drug in the past year.

    .. math:: U = Pop \\times prev

    ``population``: persons in the survey's age band; ``past_year_prevalence``: share (0-1).
    """
    return np.multiply(population, past_year_prevalence)


def consumption_pure_kg(past_year_users, grams_per_user):
    """Domestic consumption, kg of pure drug per year.

    .. math:: C = U \\times q / 1000

    ``grams_per_user``: pure grams consumed per user per year.
    """
    return np.multiply(past_year_users, grams_per_user) / 1000.0


def seizures_pure_kg(seized_quantity, purity):
    """Seizures converted to pure equivalent, in the stage's unit.

    .. math:: S = S^{raw} \\times \\pi

    ``seized_quantity``: quantity seized as reported (bulk); ``purity``: pure drug per unit seized
    (for coca paste and base: kg of pure cocaine hydrochloride equivalent per kg seized).
    """
    return np.multiply(seized_quantity, purity)


def losses_kg(loss_share, supply):
    """Losses in the chain (spoilage, quality control, abandoned shipments).

    .. math:: \\Lambda = \\lambda \\times (P + M + I)

    ``supply``: production *P*, imports *M* and inflow from the previous stage *I*, summed.
    """
    return np.multiply(loss_share, supply)
