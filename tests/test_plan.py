"""The batch planner (plan.py): which runs share a batch, and when a batch's problems are made."""


def test_plan_batches_and_prepares_again_only_for_another_preparation(monkeypatch):
    """One batching rule for the CLI and the studio: consecutive runs that differ only in their Gram
    targets share a batch; a new preparation only where a run changes what prepare() reads."""
    from eigenstyle import plan
    from eigenstyle.options import Options

    made = []
    monkeypatch.setattr(plan, "prepare", lambda content, styles, o: made.append(o.style_layers) or o)
    monkeypatch.setattr(plan, "vary", lambda plain, o, swatch=None: o)
    base = Options(size=48, style_layers=("relu3_2",), mode="variant", variant_seed=1).validate()
    runs = [base.replace(variant_seed=i) for i in (1, 2, 3)] + [
        base.replace(style_layers=("relu3_3",), variant_seed=4),
        base.replace(style_weight=5.0, variant_seed=5),
    ]
    groups = plan.batches(runs, 2)
    assert [len(g) for g in groups] == [2, 1, 1, 1]
    preparation = plan.Preparation("content.jpg", ["style.jpg"])
    assert [preparation.problems(g) for g in groups] == groups
    assert made == [("relu3_2",), ("relu3_3",), ("relu3_2",)]  # a style weight is vary()'s: no new preparation
