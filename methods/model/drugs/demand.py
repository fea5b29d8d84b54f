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


def retail_grams(users, share_of_users, days_per_year, grams_per_day):
    """Grams bought at retail (as sold) by one kind of user in a year.

    .. math:: G_k = U \\times s_k \\times d_k \\times g_k

    ``users`` (*U*): past-year users; ``share_of_users`` (:math:`s_k`): share of them of this kind
    (occasional, frequent ...); ``days_per_year`` (:math:`d_k`); ``grams_per_day`` (:math:`g_k`), as sold.
    """
    return np.multiply(np.multiply(np.multiply(users, share_of_users), days_per_year), grams_per_day)


def retail_pure_kg(retail_grams, retail_purity):
    """Pure kilograms consumed, from grams bought at retail.

    .. math:: C^{dem} = \\sum_k G_k \\times \\pi^{ret} / 1000
    """
    return np.multiply(retail_grams, retail_purity) / 1000.0


def retail_spending_usd(retail_grams, price_usd_per_gram):
    """Users' spending at retail, the size of the retail market.

    .. math:: R = \\sum_k G_k \\times p^{ret}
    """
    return np.multiply(retail_grams, price_usd_per_gram)
