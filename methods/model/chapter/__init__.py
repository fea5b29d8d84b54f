"""What a country chapter displays: tables (:mod:`.tables`) and figures (:mod:`.figures`). They only
arrange results for reading; every number comes from the model."""
