# why: drops the removed units' rows but keeps every column of the next layer, which then reads the wrong units
#   (and cannot even multiply)
# cell: shrink
# loses: test_shrink
# says: a removed unit takes its row and bias, and its column of the next layer
def shrink(model, keep):
    smaller = copy.deepcopy(model)
    for i, layer in enumerate(smaller.hidden):
        rows = keep.get(f"hidden.{i}.weight")
        if rows is not None:
            layer.weight = nn.Parameter(layer.weight.detach()[rows].clone())
            layer.bias = nn.Parameter(layer.bias.detach()[rows].clone())
            layer.out_features = len(rows)
    return smaller
