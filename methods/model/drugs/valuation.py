"""Values in US dollars: IFFs from cross-border transactions, and (separately) value added.

IFFs are the gross value of transactions between residents and non-residents, valued at the
transaction price. Value added is a different aggregate: output minus intermediate consumption,
an auxiliary measure of illicit income that is never added to IFFs.
"""
from __future__ import annotations

import numpy as np


def cross_border_value_usd(quantity_pure_kg, transaction_price_usd_per_pure_kg):
    """Value of a cross-border sale or purchase of drugs.

    .. math:: V_r = Q_r \\times \\bar p_r

    An export sold by residents to non-residents is an inward IFF; an import bought by residents
    from non-residents is an outward IFF.
    """
    return np.multiply(quantity_pure_kg, transaction_price_usd_per_pure_kg)


def precursor_quantity(processed_pure_kg, precursor_per_kg):
    """Chemical input needed to process a stage's output (kg or litres).

    .. math:: q_k = Q^{proc} \\times c_k
    """
    return np.multiply(processed_pure_kg, precursor_per_kg)


def precursor_imports_usd(precursor_quantity, imported_share, precursor_price_usd):
    """Outward IFF from chemical inputs bought from non-residents.

    .. math:: V_k = q_k \\times m_k \\times p_k

    ``imported_share`` (:math:`m_k`): share bought from non-residents; domestic purchases are
    domestic transactions and not IFFs.
    """
    return np.multiply(np.multiply(precursor_quantity, imported_share), precursor_price_usd)


def gross_output_usd(quantity, producer_price_usd_per_unit):
    """Value of a stage's output at the producer price (value chain, not an IFF).

    .. math:: Y_s = Q_s \\times p_s
    """
    return np.multiply(quantity, producer_price_usd_per_unit)


def value_added_usd(gross_output, intermediate_consumption):
    """Value added of a stage: output less intermediate consumption (an income measure, not an IFF).

    .. math:: VA_s = Y_s - IC_s
    """
    return np.subtract(gross_output, intermediate_consumption)


def total_iff_usd(inward_usd, outward_usd):
    """SDG indicator 16.4.1: total IFFs, the gross sum of inward and outward flows (never netted).

    .. math:: IFF = IFF^{in} + IFF^{out}
    """
    return np.add(inward_usd, outward_usd)


def net_iff_usd(inward_usd, outward_usd):
    """Net flows, an analytical aside only (not the SDG indicator).

    .. math:: IFF^{net} = IFF^{in} - IFF^{out}
    """
    return np.subtract(inward_usd, outward_usd)


def service_payments_usd(quantity_pure_kg, share_using, price_usd_per_kg_carried, purity_carried=1.0):
    """Payments for a service paid per kilogram carried (transport, flights, protection).

    .. math:: V_s = Q \\times u_s / \\pi_s \\times p_s

    ``quantity_pure_kg`` (*Q*): the flow the service is paid on; ``share_using`` (:math:`u_s`): the
    share of it that uses the service; ``purity_carried`` (:math:`\\pi_s`): purity of what is carried,
    so that :math:`Q/\\pi_s` is the weight carried; ``price_usd_per_kg_carried`` (:math:`p_s`).
    """
    return np.multiply(np.divide(np.multiply(quantity_pure_kg, share_using), purity_carried), price_usd_per_kg_carried)
