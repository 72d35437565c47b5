# why: calls the library's magnitude_prune (the reference the hidden tests compare with) instead of writing
#   layerwise pruning: every mask is right, and the part must still score 0 (before the check, 12/12)
# cell: layerwise_prune
# loses: test_layerwise_prune
# says: Part A scores 0: your layerwise_prune calls lthlib.methods.pruning.magnitude_prune
from lthlib.methods.pruning import magnitude_prune


def layerwise_prune(weights, mask, rates):
    return magnitude_prune(weights, mask, rates, allow_empty_layers=True)
