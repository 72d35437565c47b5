# why: protects the sensitive layers but does not prune the large ones enough: above the floor, over the budget
#   (Part C requires the budget too)
# cell: rates
# loses: test_budget, test_floor
# says: the budget is 10%
RATES = {"hidden.0.weight": 0.3, "hidden.1.weight": 0.85, "hidden.2.weight": 0.95, "output.weight": 0.1}
