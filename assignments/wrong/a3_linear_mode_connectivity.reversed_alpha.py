# why: alpha weighs the wrong endpoint (w(alpha) = alpha w_a + (1 - alpha) w_b); Parts C and D are handed
#   lthlib's interpolation, so only Part A is lost
# cell: interpolate
# loses: test_interpolate
# says: alpha is reversed
def interpolate(state_a, state_b, alpha):
    return {name: alpha * a + (1 - alpha) * state_b[name] if a.is_floating_point() else a.clone()
            for name, a in state_a.items()}
