"""Package data of patient-voice: the label taxonomy and the default routing file.

The corpus under `data/comments/` stays in the checkout: it trains models and is not installed."""
