# why: counts and ranks every weight of the layer, pruned ones included, instead of the survivors only
# cell: layerwise_prune
# loses: test_layerwise_prune
# says: count and rank the survivors only
def layerwise_prune(weights, mask, rates):
    new = {name: keep.clone() for name, keep in mask.items()}
    for name, rate in rates.items():
        magnitude = weights[name].detach().abs().flatten()
        n = n_to_remove(rate, magnitude.numel())
        keep = mask[name].flatten().clone()
        keep[torch.sort(magnitude, stable=True).indices[:n]] = False
        new[name] = keep.reshape(mask[name].shape)
    return Mask(new)
