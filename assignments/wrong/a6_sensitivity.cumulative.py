# why: prunes the layers one after another into the same weights, so each point of the scan also has the
#   earlier layers pruned
# cell: sensitivity_scan
# loses: test_sensitivity_scan
# says: ONE layer at a time
def sensitivity_scan(model, weights, x, y, rates):
    scan = {}
    current = {name: w.clone() for name, w in weights.items()}
    for layer in LAYERS:
        scan[layer] = []
        for rate in rates:
            mask = prune_layers(current, {layer: rate})
            model.load_state_dict({name: (w * mask[name] if name in mask else w) for name, w in current.items()})
            scan[layer].append(evaluate(model, x, y)[1])
        current = {name: (w * mask[name] if name in mask else w) for name, w in current.items()}
    return scan
