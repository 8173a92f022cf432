"""scikit-learn's own estimator checks (sklearn.utils.estimator_checks)."""

from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from imprint_rs import ImprintClassifier

# Checks that cannot apply, with the reason. Empty: every check applies and passes.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS


ESTIMATORS = [
    ImprintClassifier(),
    ImprintClassifier(generator="mean"),
    ImprintClassifier(generator="all", k=None, aggregation="mnn", m=5, distance="euclidean"),
    ImprintClassifier(reject_tpr=0.95),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_check_estimator_passes_as_a_whole():
    """The single call the issue names: check_estimator on the defaults."""
    results = check_estimator(
        ImprintClassifier(), expected_failed_checks=EXPECTED_FAILED_CHECKS, on_fail="raise"
    )
    assert len(results) > 40
    assert all(r["status"] == "passed" for r in results), [
        (r["check_name"], r["status"]) for r in results if r["status"] != "passed"
    ]
