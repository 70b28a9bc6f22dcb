from rnnkit.training.plateau import EarlyStopping, MetricTracker, PlateauScale


def test_tracker_counts_evaluations_without_improvement():
    tracker = MetricTracker(mode="min", min_delta=0.1)
    assert [tracker.update(v) for v in (1.0, 0.95, 0.8, float("nan"), 0.85)] == [True, False, True, False, False]
    assert tracker.best == 0.8 and tracker.bad_evals == 2
    tracker = MetricTracker(mode="max")
    assert [tracker.update(v) for v in (0.5, 0.7, 0.7)] == [True, True, False]


def test_early_stopping_after_patience_and_its_state_round_trips():
    stopper = EarlyStopping(MetricTracker(), patience=2)
    assert [stopper.update(v) for v in (3.0, 2.0, 2.5)] == [False, False, False]
    again = EarlyStopping(MetricTracker(), patience=2)
    again.load_state_dict(stopper.state_dict())
    assert again.update(2.1) is True
    assert EarlyStopping(MetricTracker(), patience=None).update(1.0) is False


def test_plateau_scale_cuts_and_stops_at_the_floor():
    plateau = PlateauScale(MetricTracker(), patience=0, factor=0.5, floor=0.3)
    for value in (1.0, 1.0, 1.0, 1.0):
        plateau.update(value)
    assert plateau.scale == 0.3
