# why: takes the initialisation's effect from the ticket's mask only (T_o - T_f) instead of averaging it over
#   both masks, and the mask's from the original weights only
# cell: effects
# loses: test_effects
# says: the init effect averages original-minus-fresh over BOTH masks
def effects(acc):
    def mean(xs):
        return sum(xs) / len(xs)

    to, tf = acc[("ticket", "original")], acc[("ticket", "fresh")]
    ro, rf = acc[("random", "original")], acc[("random", "fresh")]
    return {"ticket_vs_reinit": mean([a - b for a, b in zip(to, tf)]),
            "ticket_vs_random": mean([a - b for a, b in zip(to, ro)]),
            "mask": mean([0.5 * ((a - b) + (c - d)) for a, b, c, d in zip(to, ro, tf, rf)]),
            "init": mean([a - b for a, b in zip(to, tf)]),
            "interaction": mean([(a - b) - (c - d) for a, b, c, d in zip(to, tf, ro, rf)])}
