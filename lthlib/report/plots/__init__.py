"""The standard figures. Each function returns a matplotlib Figure; notebooks show it and,
when a figures folder is set, save it with ``save_figure``.

One module per topic; every figure is re-exported here, so ``plots.name`` works whatever
module draws it:

- ``common``: What every figure shares: metric labels, colours, percent axes, legends,
  bands, bars and saving (``save_figure``).
- ``dense``: Notebook 01's figures: training curves, weight histograms and magnitudes,
  parameters per layer, examples.
- ``tickets``: Figures of IMP, rewinding, retraining and linear mode connectivity (notebooks
  02, 03 and 05).
- ``masks``: Figures of masks compared: supermask criteria, overlap, accuracy against cost,
  many tickets (notebooks 04, 06, 07 and 09).
- ``speed``: Notebook 08's figures.
"""
from __future__ import annotations

from lthlib.report.plots.common import (METRIC_LABELS, save_figure, band, SPLIT_COLORS, SPLIT_GREYS, layer_labels,
                                        percent_axis, lines_over_x, grouped_bars, bar_panels, seed_bands,
                                        paired_differences, ci_band)
from lthlib.report.plots.dense import (training_curves, weight_histograms, magnitude_scatter, parameters_per_layer,
                                       examples)
from lthlib.report.plots.tickets import (imp_bands, imp_metric, imp_early_stop, ticket_curves, CURVE_STYLES,
                                         curves_at_round, first_layer_mask, barrier_vs_k, loss_contour, rewinding_vs_k,
                                         retraining_vs_density, retraining_curves)
from lthlib.report.plots.masks import (input_profiles, jackpot_strips, overlap_bars, criteria_panels, accuracy_vs_cost,
                                       best_of_n_panels)
from lthlib.report.plots.speed import (speedup_panels, speed_figure, accuracy_vs_speed, routes_figure, layer_figure)

__all__ = ["METRIC_LABELS", "save_figure", "band", "SPLIT_COLORS", "SPLIT_GREYS", "layer_labels", "percent_axis",
           "lines_over_x", "grouped_bars", "bar_panels", "seed_bands", "paired_differences", "ci_band",
           "training_curves", "weight_histograms", "magnitude_scatter", "parameters_per_layer", "examples",
           "imp_bands", "imp_metric", "imp_early_stop", "ticket_curves", "CURVE_STYLES", "curves_at_round",
           "first_layer_mask", "barrier_vs_k", "loss_contour", "rewinding_vs_k", "retraining_vs_density",
           "retraining_curves", "input_profiles", "jackpot_strips", "overlap_bars", "criteria_panels",
           "accuracy_vs_cost", "best_of_n_panels", "speedup_panels", "speed_figure", "accuracy_vs_speed",
           "routes_figure", "layer_figure"]
