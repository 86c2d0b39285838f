"""The association maturity self-assessment: its questions, the answer scale, the weights, the
score out of 100 they make with the staff training the records show. The report training
gives of an association's maturity is its HTTP answer: ``contracts.api.training``.

It sits with the contracts because it crosses processes: an association answers it (GraphQL,
or its own system's intake request), its score travels in events, the gateway reads training's
report and the partner simulator works out the truth with the same scoring. The decisions
(which assessment is the baseline, when an association counts as upskilled) are training's:
``services/training/maturity.py``.

Scoring (out of 100):

* eight questions, each answered from 0 to 3 (:data:`SCALE`) and worth 10 points at 3: five on
  the staff's competences, one per Pix area (DigComp 2.2), three on the association's own
  digital practice; a question scores ``10 × answer / 3``;
* staff training: 20 points, earned from the person-hours of the association's staff sessions
  (session kind STAFF, headcount × duration) held up to the assessment's date, at
  ``20 / staff_hours_for_full_points`` per hour (1 point an hour by default), capped at 20;
* the sum, rounded half up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from math import floor

MAX_ANSWER = 3
STAFF_TRAINING_POINTS = 20
DEFAULT_UPSKILLED_POINTS = 20
DEFAULT_STAFF_HOURS_FOR_FULL_POINTS = 20


class MaturityQuestion(StrEnum):
    """A question of the self-assessment (see :data:`QUESTIONNAIRE` for its wording)."""

    STAFF_INFORMATION = "staff_information"
    STAFF_COMMUNICATION = "staff_communication"
    STAFF_CONTENT = "staff_content"
    STAFF_SECURITY = "staff_security"
    STAFF_ENVIRONMENT = "staff_environment"
    ONLINE_PROCEDURES = "online_procedures"
    DIGITAL_TOOLS = "digital_tools"
    DIGITAL_PLAN = "digital_plan"


@dataclass(frozen=True)
class Level:
    """One step of the answer scale."""

    value: int
    label: str  # French, the programme's language
    english: str


SCALE = (
    Level(0, "pas du tout", "not at all"),
    Level(1, "en démarrage", "starting"),
    Level(2, "en partie", "partly"),
    Level(3, "pleinement, en routine", "fully, as a routine"),
)


@dataclass(frozen=True)
class Question:
    id: MaturityQuestion
    weight: int  # points for the top answer
    pix_area: str | None  # the Pix area (1-5) the question is about, if one
    text: str
    english: str


QUESTIONNAIRE: tuple[Question, ...] = (
    Question(
        MaturityQuestion.STAFF_INFORMATION,
        10,
        "1",
        "L'équipe trouve, vérifie et range l'information en ligne (sites des services publics, "
        "fichiers partagés)",
        "Staff find, check and organise information online (public service sites, shared files)",
    ),
    Question(
        MaturityQuestion.STAFF_COMMUNICATION,
        10,
        "2",
        "L'équipe communique et collabore en ligne (messagerie, visio, agenda et documents "
        "partagés)",
        "Staff communicate and work together online (e-mail, video calls, shared calendars "
        "and documents)",
    ),
    Question(
        MaturityQuestion.STAFF_CONTENT,
        10,
        "3",
        "L'équipe produit ses documents et supports numériques (courriers, affiches, publications)",
        "Staff produce their own digital documents and materials (letters, posters, posts)",
    ),
    Question(
        MaturityQuestion.STAFF_SECURITY,
        10,
        "4",
        "L'équipe protège ses équipements et les données personnelles (mots de passe, "
        "sauvegardes, RGPD, hameçonnage)",
        "Staff protect devices and personal data (passwords, backups, GDPR, phishing)",
    ),
    Question(
        MaturityQuestion.STAFF_ENVIRONMENT,
        10,
        "5",
        "L'équipe résout les problèmes techniques courants et installe ses outils",
        "Staff solve everyday technical problems and set up their own tools",
    ),
    Question(
        MaturityQuestion.ONLINE_PROCEDURES,
        10,
        None,
        "L'association accompagne les habitants dans leurs démarches en ligne (CAF, France "
        "Travail, santé, impôts)",
        "The association helps residents through online procedures (family benefits, France "
        "Travail, health, taxes)",
    ),
    Question(
        MaturityQuestion.DIGITAL_TOOLS,
        10,
        None,
        "L'association gère son activité avec des outils numériques (inscriptions, suivi, "
        "fichiers partagés)",
        "The association runs its own activity on digital tools (sign-ups, follow-up, shared "
        "files)",
    ),
    Question(
        MaturityQuestion.DIGITAL_PLAN,
        10,
        None,
        "L'association a un projet numérique (référent désigné, équipement, règles de "
        "protection des données écrites)",
        "The association has a digital plan (a named referent, equipment, written "
        "data-protection rules)",
    ),
)
WEIGHTS = {question.id: question.weight for question in QUESTIONNAIRE}


@dataclass(frozen=True)
class MaturityRule:
    """When an association counts as upskilled, and how staff training scores
    (training's ``DN_TRAINING_UPSKILLED_POINTS`` and ``DN_TRAINING_STAFF_HOURS_FOR_FULL_POINTS``).

    Upskilled: an assessment after the baseline (the first, by date) scores at least
    ``upskilled_points`` more than the baseline."""

    upskilled_points: int = DEFAULT_UPSKILLED_POINTS
    staff_hours_for_full_points: int = DEFAULT_STAFF_HOURS_FOR_FULL_POINTS


def question_points(question: MaturityQuestion, answer: int) -> Fraction:
    return Fraction(WEIGHTS[question] * answer, MAX_ANSWER)


def questionnaire_points(answers: Mapping[MaturityQuestion, int]) -> Fraction:
    """Points of the answers (at most 80), each question ``weight × answer / 3``."""
    return sum((question_points(q, answer) for q, answer in answers.items()), Fraction(0))


def staff_training_points(person_minutes: int, rule: MaturityRule) -> Fraction:
    """Points of the staff's training time (at most 20): person-hours at
    ``20 / staff_hours_for_full_points`` each."""
    hours_for_full = max(1, rule.staff_hours_for_full_points)
    earned = Fraction(person_minutes, 60) * Fraction(STAFF_TRAINING_POINTS, hours_for_full)
    return min(Fraction(STAFF_TRAINING_POINTS), earned)


def maturity_score(
    answers: Mapping[MaturityQuestion, int], staff_person_minutes: int, rule: MaturityRule
) -> int:
    """The score out of 100: questionnaire plus staff training, rounded half up."""
    total = questionnaire_points(answers) + staff_training_points(staff_person_minutes, rule)
    return floor(total + Fraction(1, 2))
