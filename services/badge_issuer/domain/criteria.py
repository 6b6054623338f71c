"""Judging an assessment result against an achievement's criteria: a pass mark, or a rubric level.

Rubric levels are listed lowest first in the taxonomy (as the OB 3.0 rubricCriterionLevel array is
read), so "at or above the required level" means "at the same position or later in that list".
"""

from dataclasses import dataclass
from typing import Any

from shared.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class Judgement:
    met: bool
    reason: str | None
    result: dict[str, Any]  # the OB 3.0 Result the credential will carry


def _ob3_result_description(ob3_achievement: dict[str, Any]) -> dict[str, Any]:
    descriptions = ob3_achievement.get("resultDescription") or []
    if not descriptions:
        raise Unprocessable("The achievement has no result description to judge the result against.")
    return descriptions[0]


def judge(
    definition: dict[str, Any], ob3_achievement: dict[str, Any], *, score: float | None, rubric_level: str | None
) -> Judgement:
    rules = definition["result_description"]
    described = _ob3_result_description(ob3_achievement)
    if rules["kind"] == "score":
        return _judge_score(rules, described, score)
    return _judge_rubric(rules, described, rubric_level)


def _judge_score(rules: dict[str, Any], described: dict[str, Any], score: float | None) -> Judgement:
    if score is None:
        raise Unprocessable("This achievement is judged on a score; send `score`.", field="score")
    if score > rules["max_score"]:
        raise Unprocessable(f"score {score:g} exceeds the maximum {rules['max_score']:g}.", field="score")
    result = {"type": ["Result"], "resultDescription": described["id"], "value": f"{score:g}"}
    if score < rules["pass_mark"]:
        return Judgement(False, f"Score {score:g} is below the pass mark {rules['pass_mark']:g}.", result)
    return Judgement(True, None, result)


def _judge_rubric(rules: dict[str, Any], described: dict[str, Any], rubric_level: str | None) -> Judgement:
    order = [level["id"] for level in rules["rubric_levels"]]
    if rubric_level is None:
        raise Unprocessable("This achievement is judged on a rubric; send `rubric_level`.", field="rubric_level")
    if rubric_level not in order:
        raise Unprocessable(
            f"Unknown rubric level {rubric_level!r}; expected one of {', '.join(order)}.", field="rubric_level"
        )
    level_uri = next(
        (
            level["id"]
            for level in described.get("rubricCriterionLevel", [])
            if level["id"].endswith(f"#level-{rubric_level}")
        ),
        rubric_level,
    )
    result = {"type": ["Result"], "resultDescription": described["id"], "achievedLevel": level_uri}
    required = rules["required_level"]
    if order.index(rubric_level) < order.index(required):
        return Judgement(False, f"Rubric level {rubric_level!r} is below the required level {required!r}.", result)
    return Judgement(True, None, result)
