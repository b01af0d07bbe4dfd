from __future__ import annotations

from {{ cookiecutter.package_name }} import predict, train

PARAMS = {"n_estimators": 10, "max_depth": 3, "seed": 0}


def saved_model(frame, target, folder):
    model = train.fit(frame, PARAMS, target)
    features, _ = train.features_and_target(frame, target)
    train.save_model(model, features.head(3), folder)
    return features


def test_predict_adds_the_prediction(sample_frame, target, tmp_path):
    saved_model(sample_frame, target, tmp_path / "model")

    result = predict.predict(tmp_path / "model", sample_frame.head(10), target)

{%- if cookiecutter.task == "regression" %}
    assert list(result.columns) == [*sample_frame.columns, "prediction"]
    low, high = sample_frame[target].min(), sample_frame[target].max()
    assert result["prediction"].between(low, high).all()
{%- else %}
    assert list(result.columns) == [*sample_frame.columns, "prediction", "probability"]
    assert set(result["prediction"]) <= set(sample_frame[target])
    assert result["probability"].between(0, 1).all()
{%- endif %}


def test_predict_cli(sample_frame, target, tmp_path):
    features = saved_model(sample_frame, target, tmp_path / "model")
    features.head(4).to_csv(tmp_path / "in.csv", index=False)

    args = [str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--model", str(tmp_path / "model")]
    code = predict.main(args)

    assert code == 0
    assert (tmp_path / "out.csv").read_text().count("\n") == 5
