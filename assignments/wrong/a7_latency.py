# why: counts the weights of every layer, forgetting that a convolution uses each weight at every output position
# cell: count_macs
# loses: test_count_macs
# says: its MACs are weights x output length
def count_macs(model, input_shape, mask=None):
    return {name: int(mask[name].sum()) if mask is not None and name in mask else p.numel()
            for name, p in lthlib.prunable_parameters(model).items()}
