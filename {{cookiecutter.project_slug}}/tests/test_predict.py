from __future__ import annotations

from {{ cookiecutter.package_name }} import predict, train


def test_predict_adds_prediction_and_probability(sample_frame, tmp_path):
    model = train.fit(sample_frame, {"n_estimators": 10, "max_depth": 3, "seed": 0})
    features, _ = train.features_and_target(sample_frame)
    train.save_model(model, features.head(3), tmp_path / "model")

    result = predict.predict(tmp_path / "model", sample_frame.head(10))

    assert list(result.columns) == [*sample_frame.columns, "prediction", "probability"]
    assert set(result["prediction"]) <= {0, 1}
    assert result["probability"].between(0, 1).all()


def test_predict_cli(sample_frame, tmp_path):
    model = train.fit(sample_frame, {"n_estimators": 5, "max_depth": 2, "seed": 0})
    features, _ = train.features_and_target(sample_frame)
    train.save_model(model, features.head(3), tmp_path / "model")
    features.head(4).to_csv(tmp_path / "in.csv", index=False)

    args = [str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--model", str(tmp_path / "model")]
    code = predict.main(args)

    assert code == 0
    assert (tmp_path / "out.csv").read_text().count("\n") == 5
