"""Drug-trafficking estimation: supply, demand, balance, prices, valuation, and the chain that composes them."""
from .balance import StageBalance
from .chain import DrugResult, evaluate_drug_market

__all__ = ["DrugResult", "StageBalance", "evaluate_drug_market"]
