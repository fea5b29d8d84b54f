"""Drug-trafficking estimation: supply, demand, balance, prices, valuation, and their composition."""
from .balance import StageBalance
from .model import DrugResult, TradeFlow, evaluate_drug_market

__all__ = ["DrugResult", "StageBalance", "TradeFlow", "evaluate_drug_market"]
