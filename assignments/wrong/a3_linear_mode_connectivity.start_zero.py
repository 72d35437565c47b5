# why: trains each child from the parent's weights at k, but on the schedule of iteration 0 (no
#   start_iteration): all the iterations again instead of k to the end
# cell: instability
# loses: test_instability
# says: child 1 was trained from iteration 0 again
def instability(settings, data, parent_state, k, path_errors, barrier, mask=None, points=11):
    children = []
    for child in (1, 2):
        child_settings = settings.replace(data_order_seed=stream_seed(settings.seed, "child", child))
        model = model_for(child_settings, data)
        model.load_state_dict(parent_state)
        children.append(train(model, data, child_settings, mask=mask, progress=False).final_state)
    errors = path_errors(children[0], children[1], points)
    return {"barrier": barrier(errors), "errors": errors, "children": tuple(children)}
