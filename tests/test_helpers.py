"""Tests for the run-size switch, the results table, the epoch timer and the offline cache tool."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from utils import by_size, is_fast, run_size, runsize
from utils.training import (EarlyStoppingAfter, EpochProgress, EpochTimer, ResultsTable,
                            describe_overfitting, measure_throughput, paired_difference,
                            validation_loss_turn)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ run size
@pytest.mark.parametrize("value, expected", [(None, "full"), ("full", "full"), ("fast", "fast"),
                                             (" FAST ", "fast"), ("", "full")])
def test_run_size_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(runsize.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(runsize.ENV_VAR, value)
    assert run_size() == expected
    assert is_fast() == (expected == "fast")
    assert by_size(full="F", fast="f") == ("f" if expected == "fast" else "F")
    assert by_size(full="F", fast="f", smoke="s") == ("f" if expected == "fast" else "F")


def test_smoke_size_takes_its_own_value_or_the_fast_one(monkeypatch):
    monkeypatch.setenv(runsize.ENV_VAR, "smoke")
    assert run_size() == "smoke" and is_fast() and runsize.is_smoke()
    assert by_size(full="F", fast="f", smoke="s") == "s"
    assert by_size(full="F", fast="f") == "f"


def test_smoke_size_builds_keras_applications_with_random_weights(monkeypatch):
    import keras

    from utils.notebook import use_random_pretrained_weights

    originals = {name: getattr(keras.applications, name) for name in dir(keras.applications)}
    try:
        assert use_random_pretrained_weights() >= 10
        assert use_random_pretrained_weights() >= 10      # idempotent: no double wrapping
        net = keras.applications.MobileNet(alpha=0.25, include_top=False, input_shape=(32, 32, 3))
        assert net.get_layer("conv_pw_13_relu") is not None     # the real layer names
        fresh = keras.applications.MobileNet(alpha=0.25, include_top=False, input_shape=(32, 32, 3))
        # random: two builds differ (pretrained weights would be equal)
        assert not np.allclose(net.get_layer("conv1").get_weights()[0],
                               fresh.get_layer("conv1").get_weights()[0])
    finally:
        for name, value in originals.items():
            setattr(keras.applications, name, value)


def test_unknown_run_size_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(runsize.ENV_VAR, "tiny")
    with pytest.raises(ValueError, match="COURSE_SIZE='tiny'.*full or fast"):
        run_size()


# ------------------------------------------------------------- results table
def test_results_table_adds_and_replaces_rows():
    table = ResultsTable()
    table.add("dense", params=420_260, epochs=10, train_acc=0.99, test_acc=0.91)
    table.add("cnn1", params=251_210, epochs=10, train_acc=0.95, test_acc=0.90,
              seconds_per_epoch=1.234)
    table.add("dense", params=420_260, epochs=12, train_acc=0.98, test_acc=0.92)
    frame = table.frame()
    assert frame["model"].tolist() == ["cnn1", "dense"]
    assert frame.set_index("model").loc["dense", "epochs"] == 12
    assert frame.set_index("model").loc["cnn1", "s / epoch"] == 1.23
    assert "train images" not in frame.columns  # all empty, so left out
    assert "<table" in table._repr_html_()


def test_results_table_validation_accuracy_and_gap():
    table = ResultsTable()
    table.add("baseline", params=10, epochs=5, train_acc=0.99, val_acc=0.6, test_acc=0.58)
    table.add("no val", params=10, epochs=5, train_acc=0.9, test_acc=0.8)
    frame = table.frame().set_index("model")
    assert list(frame.columns[:6]) == ["parameters", "epochs", "train accuracy",
                                       "validation accuracy", "gap", "test accuracy"]
    assert frame.loc["baseline", "gap"] == pytest.approx(0.39)
    assert np.isnan(frame.loc["no val", "gap"])
    with pytest.raises(ValueError, match="val_acc"):
        table.add("m", params=1, epochs=1, train_acc=0.9, val_acc=60, test_acc=0.5)


def test_results_table_rejects_percentages():
    with pytest.raises(ValueError, match="fraction"):
        ResultsTable().add("m", params=1, epochs=1, train_acc=95, test_acc=0.9)


# ------------------------------------------------------- reading overfitting
def test_validation_loss_turn_finds_the_minimum_and_the_rise():
    turn = validation_loss_turn([2.0, 1.0, 0.8, 1.0, 1.2])
    assert turn == {"epochs": 5, "best_epoch": 3, "best": 0.8, "last": 1.2,
                    "rise": pytest.approx(0.5)}
    assert validation_loss_turn(np.array([3.0, 2.0, 1.0]))["rise"] == 0.0
    with pytest.raises(ValueError, match="finite"):
        validation_loss_turn([1.0, float("nan")])
    with pytest.raises(ValueError, match="finite"):
        validation_loss_turn([])


@pytest.mark.parametrize("seed", range(5))
def test_describe_overfitting_matches_the_numbers(seed):
    rng = np.random.default_rng(seed)
    losses = rng.uniform(0.5, 2.0, rng.integers(2, 30))
    text = describe_overfitting(losses, min_rise=0.1)
    best = int(np.argmin(losses))
    rise = losses[-1] / losses[best] - 1
    if best == len(losses) - 1:
        assert "still falling" in text and "overfitting yet" in text
    else:
        assert f"epoch {best + 1} of {len(losses)}" in text
        assert f" {rise:.1%} " in text if rise < 0.1 else f" {rise:.0%} " in text
        assert text.endswith(": overfitting") == (rise >= 0.1)
        assert ("little overfitting" in text) == (rise < 0.1)


def test_describe_overfitting_gives_a_small_rise_to_a_tenth_of_a_percent():
    text = describe_overfitting([1.012, 1.013, 1.016])
    assert "rose only 0.4% by epoch 3 (1.016): little overfitting" in text, text
    assert "rose only 0% " not in describe_overfitting([1.0, 1.00001])


def test_describe_overfitting_example():
    text = describe_overfitting([1.5, 1.0, 0.912] + [1.0] * 16 + [1.277])
    assert text == ("validation loss bottomed at epoch 3 of 20 (0.912) and rose 40% by "
                    "epoch 20 (1.277): overfitting")


def _early_stopping_run(stop, val_losses):
    """Drive an early-stopping callback through scripted validation losses; each epoch's
    weights are the epoch number. Returns (epochs run, the weight restored at the end)."""
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    stop.set_model(model)
    stop.on_train_begin()
    model.stop_training = False
    for epoch, loss in enumerate(val_losses):
        model.set_weights([np.full((1, 1), float(epoch + 1))])
        stop.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            break
    stop.on_train_end()
    return epoch + 1, float(model.get_weights()[0][0, 0])


@pytest.mark.parametrize("min_epochs, stops_at", [(0, 5), (4, 5), (8, 8), (30, 12)])
def test_early_stopping_after_waits_for_min_epochs_and_keeps_the_best_epoch(min_epochs, stops_at):
    """Best at epoch 2, then rising: plain patience 3 stops at epoch 5; the minimum delays
    the stop (to the end of a 12-epoch run at most) but epoch 2's weights are kept."""
    import keras

    losses = [1.0, 0.5] + [0.6 + 0.01 * i for i in range(10)]
    stop = EarlyStoppingAfter(min_epochs, monitor="val_loss", patience=3, restore_best_weights=True)
    assert _early_stopping_run(stop, losses) == (stops_at, 2.0)
    assert stop.best_epoch + 1 == 2
    if min_epochs == 0:   # the same as Keras's own callback
        plain = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        assert _early_stopping_run(plain, losses) == (stops_at, 2.0)


def test_early_stopping_after_rejects_a_negative_minimum():
    with pytest.raises(ValueError, match="min_epochs"):
        EarlyStoppingAfter(-1)


def test_epoch_timer_measures_each_epoch():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    timer = EpochTimer()
    model.fit(np.zeros((8, 3)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.times) == 3 and all(t > 0 for t in timer.times)
    assert timer.seconds_per_epoch == pytest.approx(float(np.median(timer.times)))


def _tiny_model(loss="sparse_categorical_crossentropy"):
    import keras

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss)
    return model


def test_epoch_progress_shows_every_epoch_and_the_last_metrics(capsys):
    model = _tiny_model()
    x, y = np.zeros((8, 4, 4, 1), "float32"), np.zeros(8, "int64")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[EpochProgress("tiny", metrics=("loss",))])
    out = capsys.readouterr().out
    assert "tiny" in out and "3/3" in out and "loss=" in out


def test_epoch_progress_after_an_interrupted_fit(capsys):
    # Keras skips on_train_end when a fit is interrupted (Ctrl-C, "interrupt kernel"): the
    # next fit's bar must not be drawn one line lower, nor the old bar printed again.
    import keras

    model = _tiny_model()
    x, y = np.zeros((8, 4, 4, 1), "float32"), np.zeros(8, "int64")

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    old = EpochProgress("interrupted", metrics=("loss",))
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[old, Interrupt()])
    capsys.readouterr()
    new = EpochProgress("next", metrics=("loss",))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[new])
    out = capsys.readouterr().out
    assert "next" in out and "2/2" in out
    assert "interrupted" not in out and "\x1b[A" not in out     # no old bar, no cursor-up codes
    del old
    import gc
    gc.collect()
    assert "interrupted" not in capsys.readouterr().out       # not even when it is collected


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_measure_throughput_trains_and_predicts(loss):
    import keras

    # measure_throughput feeds pixels in 0..255, as the lessons' models (which standardize
    # inside) receive them. Unseeded and without rescaling, this test once failed in CI on the
    # lowest versions (the weights did not move) after the tests before it had drawn from
    # Keras's random state; it passed alone there, and in 300 seeds on both versions. A
    # softmax saturated by raw pixels that predicts every random label gives an exact zero
    # gradient. Seeded, and rescaled like an image model, its outcome no longer depends on
    # what ran before.
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss)
    before = [w.copy() for w in model.get_weights()]
    speed = measure_throughput(model, batch_size=4, n_batches=2)
    assert set(speed) == {"train", "inference"} and min(speed.values()) > 0
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # it trained


def test_measure_throughput_repeats_give_the_median_and_every_run():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    speed = measure_throughput(model, batch_size=4, n_batches=2, repeats=3)
    for key in ("train", "inference"):
        runs = speed[f"{key}_runs"]
        assert len(runs) == 3 and min(runs) > 0
        assert speed[key] == float(np.median(runs))
    with pytest.raises(ValueError, match="repeats"):
        measure_throughput(model, repeats=0)


def test_measure_throughput_needs_a_compiled_model():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compile"):
        measure_throughput(model)


def test_epoch_timer_before_training_is_a_clear_error():
    with pytest.raises(RuntimeError, match="callbacks"):
        EpochTimer().seconds_per_epoch


# --------------------------------------------------------- offline cache tool
def load_offline_cache():
    spec = importlib.util.spec_from_file_location("offline_cache", ROOT / "tools" / "offline_cache.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_source(tmp_path):
    source = tmp_path / "offline"
    for folder, name, content in [("mnist", "a.gz", b"m"), ("fashion-mnist", "a.gz", b"f"),
                                  ("keras-models", "w.h5", b"w")]:
        (source / folder).mkdir(parents=True)
        (source / folder / name).write_bytes(content)
    return source


def test_offline_cache_copies_where_keras_looks(tmp_path):
    tool = load_offline_cache()
    source = make_source(tmp_path)
    home = tmp_path / "keras"
    sums = "".join(f"{tool.sha256_of(p)}  {p.relative_to(source)}\n"
                   for p in sorted(source.rglob("*")) if p.is_file())
    (source / "SHA256SUMS").write_text(sums)
    assert tool.main([str(source), "--keras-home", str(home)]) == 0
    assert (home / "datasets" / "mnist" / "a.gz").read_bytes() == b"m"
    assert (home / "datasets" / "fashion-mnist" / "a.gz").read_bytes() == b"f"
    assert (home / "models" / "w.h5").read_bytes() == b"w"


def test_offline_cache_refuses_files_that_fail_their_checksum(tmp_path):
    tool = load_offline_cache()
    source = make_source(tmp_path)
    (source / "SHA256SUMS").write_text("0" * 64 + "  mnist/a.gz\n")
    with pytest.raises(SystemExit, match="does not match"):
        tool.main([str(source), "--keras-home", str(tmp_path / "keras")])
    assert not (tmp_path / "keras").exists()


# ------------------------------------------------------------- setup_notebook
def test_setup_notebook_reports_size_and_hardware_and_seeds(monkeypatch, capsys):
    import keras

    from utils import setup_notebook

    monkeypatch.setenv(runsize.ENV_VAR, "fast")
    assert setup_notebook(seed=7) == "fast"
    first = (np.random.rand(3), keras.ops.convert_to_numpy(keras.random.uniform((3,))))
    assert setup_notebook(seed=7) == "fast"
    second = (np.random.rand(3), keras.ops.convert_to_numpy(keras.random.uniform((3,))))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    out = capsys.readouterr().out
    assert "Run size: fast" in out and "Seed: 7" in out
    assert "TensorFlow" in out and "Keras 3." in out
    assert "Hardware: " in out


# ------------------------------------------------------------------- plotting
def test_plot_history_panels_and_missing_keys():
    import matplotlib

    matplotlib.use("Agg")
    from utils.plotting import plot_history

    hist = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    fig = plot_history({"run": hist})
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1  # no val_accuracy
    assert [ax.get_ylabel() for ax in plot_history({"run": hist}, metric=None).axes] == ["loss"]
    assert len(plot_history({"run": hist}, metric="loss").axes) == 1
    with pytest.raises(KeyError, match="auc"):
        plot_history({"run": hist}, metric="auc")


def test_plot_history_integer_epochs_and_log_loss():
    import matplotlib

    matplotlib.use("Agg")
    from utils.plotting import plot_history

    hist = {"loss": [13.5, 0.5, 0.3], "val_loss": [2.0, 0.6, 0.4], "accuracy": [0.5, 0.8, 0.9]}
    fig = plot_history({"run": hist})
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) > 1 and np.allclose(ticks, np.round(ticks))  # no 1.25, 1.5, ...
    assert fig.axes[0].get_yscale() == "linear"
    fig = plot_history({"run": hist}, log_loss=True)
    assert fig.axes[0].get_yscale() == "log" and fig.axes[1].get_yscale() == "linear"


def test_plot_history_runs_differ_without_colour():
    """Several runs are told apart by marker shape, not colour alone (issue 29), and the
    legend names each run once plus the two line styles."""
    import matplotlib

    matplotlib.use("Agg")
    from utils.plotting import plot_history

    hist = {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.6],
            "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.8]}
    fig = plot_history({"a": hist, "b": hist, "c": hist})
    for ax in fig.axes:
        shapes = [line.get_marker() for line in ax.lines]
        assert len(set(shapes)) == 3 and shapes[0] == shapes[1]   # train and validation of run a
        assert [line.get_linestyle() for line in ax.lines[:2]] == ["--", "-"]
        assert ax.get_legend() is None
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["a", "b", "c", "training", "validation"]


def test_show_images_checks_its_input():
    import matplotlib

    matplotlib.use("Agg")
    from utils.plotting import show_images

    fig = show_images(np.zeros((5, 4, 4)), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "e"
    with pytest.raises(ValueError, match="at least one"):
        show_images([])
    with pytest.raises(ValueError, match="2 titles"):
        show_images(np.zeros((3, 4, 4)), titles=["a", "b"])


def test_paired_difference_is_the_mean_of_per_image_differences_with_its_standard_error():
    rng = np.random.default_rng(0)
    a, b = rng.random(400) < 0.7, rng.random(400) < 0.6
    diff, se = paired_difference(a, b)
    d = a.astype(float) - b.astype(float)
    assert diff == pytest.approx(a.mean() - b.mean())
    assert se == pytest.approx(np.std(d, ddof=1) / 20)
    # Two models right on the same images: no disagreement, so no noise in their difference,
    # although each accuracy alone has a standard error of sqrt(p(1-p)/n).
    assert paired_difference(a, a) == (0.0, 0.0)
    # Pairing beats the independent formula when the models agree on most images.
    c = a.copy(); c[:20] = ~c[:20]
    independent = np.sqrt(a.mean() * (1 - a.mean()) / 400 + c.mean() * (1 - c.mean()) / 400)
    assert paired_difference(a, c)[1] < independent / 2


@pytest.mark.parametrize("a, b", [([1, 0, 1], [1, 0]), ([1], [0]), ([1, 2], [0, 1])])
def test_paired_difference_refuses_bad_input(a, b):
    with pytest.raises(ValueError):
        paired_difference(a, b)
