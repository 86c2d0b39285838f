"""The one label dictionary (French and English) and how counts, rates and dates are written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from html import escape
from typing import Literal

from services.reporting.report import (
    Cell,
    ImpactReport,
    Masked,
    RateCell,
    Table,
)

Lang = Literal["fr", "en"]

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        # indicators
        "enrolled": "Inscrits",
        "trained": "Formés",
        "directed_to_employment": "Orientés vers l'emploi",
        "associations_upskilled": "Associations montées en compétence",
        "women_share_careers": "Part des femmes (parcours métiers)",
        "career_workshop": "Ateliers métiers suivis",
        "referred": "Orientés vers un partenaire",
        "people_reached": "Personnes touchées",
        "anonymous_attendees": "Participants anonymes (ateliers collectifs)",
        "key_figures": "Chiffres clés",
        # tables and dimensions
        "by_district": "Par quartier",
        "by_association": "Par association",
        "by_gender": "Par genre",
        "by_age_band": "Par tranche d'âge",
        "by_track": "Par parcours",
        "by_careers_gender": "Parcours métiers du numérique, par genre",
        "district": "Quartier",
        "association": "Association",
        "gender": "Genre",
        "age_band": "Tranche d'âge",
        "track": "Parcours",
        "careers_gender": "Genre (parcours métiers)",
        "week": "Semaine",
        # dimension values
        "female": "Femmes",
        "male": "Hommes",
        "non_binary": "Non binaire",
        "undisclosed": "Non précisé",
        "unknown": "Inconnu",
        "digital_inclusion": "Inclusion numérique",
        "digital_careers": "Métiers du numérique",
        "under_18": "Moins de 18 ans",
        "18_25": "18–25 ans",
        "26_44": "26–44 ans",
        "45_64": "45–64 ans",
        "65_plus": "65 ans et plus",
        # rates
        "share": "Part",
        "training_rate": "Taux de formation",
        "employment_rate": "Taux d'orientation vers l'emploi",
        # series
        "enrolled_per_week": "Inscriptions par semaine",
        "trained_per_week": "Personnes formées par semaine",
        "weekly": "Dans la semaine",
        "cumulative": "Cumul",
        # page
        "impact_report": "Rapport d'impact",
        "programme": "Programme Quartiers Numériques",
        "scope": "Périmètre",
        "generated_at": "Chiffres extraits le",
        "period": "Période",
        "period_range": "du {start} au {end}",
        "period_until": "jusqu'au {end}",
        "programme_ends": "fin du programme le {end}",
        "anonymised_figures": (
            "Chiffres anonymisés\u00a0: les effectifs de 1 à 4 sont affichés «\u00a0<5\u00a0»."
        ),
        "freshness": "Fraîcheur des données",
        "summary": "Synthèse",
        "targets": "Objectifs",
        "indicator": "Indicateur",
        "actual": "Réalisé",
        "target": "Objectif",
        "baseline": "Point de départ",
        "progress": "Avancement",
        "forecast": "Objectif atteint vers le",
        "funnel": "Parcours des bénéficiaires",
        "stage": "Étape",
        "count": "Effectif",
        "trend": "Évolution hebdomadaire",
        "total": "Total",
        "notes": "Notes",
        "of": "sur",
        "no_data": "aucune donnée",
        "legend_small": "<5 : effectif de 1 à 4, masqué pour protéger les personnes.",
        "legend_secondary": (
            "s : valeur masquée pour qu'un effectif <5 ne puisse pas être retrouvé par "
            "soustraction (ou taux calculé à partir d'un effectif masqué)."
        ),
        "legend_na": "— : non calculable (dénominateur nul ou inconnu).",
        "chart_table": "Diagramme en barres : {title}. {values}",
        "chart_progress": "{indicator} : {actual} {of} {target} ({progress}).",
        "chart_funnel": "Entonnoir : {values}",
        "chart_trend": "{title}, cumul par semaine : {values}",
        # impact report composed by services/reporting/impact_report.py
        "attended": "Venus en séance",
        "placed": "Sortie enregistrée",
        "in_post_6m": "En poste à 6 mois",
        "started_attending": "Première séance suivie",
        "attended_share": "Venus en séance (part des inscrits)",
        "by_cohort": "Par cohorte (mois d'inscription)",
        "by_month": "Par mois (date des faits)",
        "cohort": "Cohorte",
        "month": "Mois",
        "scope_all": "Ensemble du programme",
        "fresh_as_of": "Chiffres à jour au {moment}",
        "fresh_none": "Aucun évènement reçu pour l'instant",
        "note_enrolled": (
            "Inscrits : personnes inscrites par une association (les retraits restent comptés)."
        ),
        "note_attended": "Venus en séance : au moins une séance suivie (présent).",
        "note_trained": (
            "Formés : règle du service formation, par défaut au moins 4 séances suivies "
            "totalisant au moins 12 heures."
        ),
        "note_directed": (
            "Orientés vers l'emploi : une sortie de toute nature sauf « autre » (emploi durable, "
            "emploi de transition, sortie positive, classes de l'IAE)."
        ),
        "note_people_reached": (
            "Personnes touchées = inscrits + participants anonymes des ateliers collectifs "
            "(l'effectif de personnes non inscrites déclaré pour chaque séance collective, "
            "le dernier déclaré ; sans identité, une personne venue anonymement à deux ateliers "
            "compte deux fois). Les participants anonymes comptent dans l'association et le "
            "quartier de la séance ; ils n'ont ni genre, ni âge, ni parcours."
        ),
        "note_rates": (
            "Taux de formation = formés / inscrits ; venus en séance = venus / inscrits ; "
            "part = part du total de la colonne."
        ),
        "note_track": (
            "Parcours : une personne peut suivre les deux parcours ; ses lignes se recouvrent, "
            "le total compte chaque personne une fois."
        ),
        "note_periods": (
            "Cohorte : mois d'inscription, et ce que ces personnes ont atteint depuis. Par mois : "
            "mois où chaque étape a été atteinte (inscription, première séance, formation, "
            "orientation)."
        ),
        "note_unknown": "Inconnu : fait reçu avant l'inscription de la personne.",
        "note_baseline": (
            "Réalisé = point de départ (résultats antérieurs à la plateforme) + ce que la "
            "plateforme a compté."
        ),
        "note_women_target": (
            "Objectif de part des femmes dans le parcours métiers du numérique : {goal} "
            "(voir le tableau par genre de ce parcours)."
        ),
        "note_names_missing": (
            "Certains quartiers ou associations n'ont pas encore de nom connu du reporting : "
            "ils sont désignés par leur identifiant."
        ),
    },
    "en": {
        "enrolled": "Enrolled",
        "trained": "Trained",
        "directed_to_employment": "Directed towards employment",
        "associations_upskilled": "Associations upskilled",
        "women_share_careers": "Share of women (digital careers track)",
        "career_workshop": "Attended a careers workshop",
        "referred": "Referred to a partner",
        "people_reached": "People reached",
        "anonymous_attendees": "Anonymous attendees (collective workshops)",
        "key_figures": "Key figures",
        "by_district": "By district",
        "by_association": "By association",
        "by_gender": "By gender",
        "by_age_band": "By age band",
        "by_track": "By track",
        "by_careers_gender": "Digital careers track, by gender",
        "district": "District",
        "association": "Association",
        "gender": "Gender",
        "age_band": "Age band",
        "track": "Track",
        "careers_gender": "Gender (careers track)",
        "week": "Week",
        "female": "Women",
        "male": "Men",
        "non_binary": "Non-binary",
        "undisclosed": "Undisclosed",
        "unknown": "Unknown",
        "digital_inclusion": "Digital inclusion",
        "digital_careers": "Digital careers",
        "under_18": "Under 18",
        "18_25": "18–25",
        "26_44": "26–44",
        "45_64": "45–64",
        "65_plus": "65 and over",
        "share": "Share",
        "training_rate": "Training rate",
        "employment_rate": "Directed-to-employment rate",
        "enrolled_per_week": "Enrolments per week",
        "trained_per_week": "People trained per week",
        "weekly": "In the week",
        "cumulative": "Cumulative",
        "impact_report": "Impact report",
        "programme": "Digital Neighbourhoods programme",
        "scope": "Scope",
        "generated_at": "Figures taken on",
        "period": "Period",
        "period_range": "{start} to {end}",
        "period_until": "up to {end}",
        "programme_ends": "the programme ends on {end}",
        "anonymised_figures": 'Anonymised figures: counts from 1 to 4 are shown as "<5".',
        "freshness": "Data freshness",
        "summary": "Summary",
        "targets": "Targets",
        "indicator": "Indicator",
        "actual": "Actual",
        "target": "Target",
        "baseline": "Baseline",
        "progress": "Progress",
        "forecast": "Target reached around",
        "funnel": "Beneficiary journey",
        "stage": "Stage",
        "count": "Count",
        "trend": "Weekly trend",
        "total": "Total",
        "notes": "Notes",
        "of": "of",
        "no_data": "no data",
        "legend_small": "<5: a count from 1 to 4, hidden to protect individuals.",
        "legend_secondary": (
            "s: hidden so that a count <5 cannot be worked out by subtraction (or a rate "
            "computed from a hidden count)."
        ),
        "legend_na": "—: not computable (zero or unknown denominator).",
        "chart_table": "Bar chart: {title}. {values}",
        "chart_progress": "{indicator}: {actual} {of} {target} ({progress}).",
        "chart_funnel": "Funnel: {values}",
        "chart_trend": "{title}, cumulative by week: {values}",
        "attended": "Attended a session",
        "placed": "Placement recorded",
        "in_post_6m": "In post after 6 months",
        "started_attending": "First session attended",
        "attended_share": "Attended (share of enrolled)",
        "by_cohort": "By cohort (month of enrolment)",
        "by_month": "By month (when it happened)",
        "cohort": "Cohort",
        "month": "Month",
        "scope_all": "Whole programme",
        "fresh_as_of": "Figures as of {moment}",
        "fresh_none": "No event received yet",
        "note_enrolled": "Enrolled: people enrolled by an association (withdrawals still count).",
        "note_attended": "Attended a session: present at one session at least.",
        "note_trained": (
            "Trained: the training service's rule, by default at least 4 sessions attended "
            "totalling at least 12 hours."
        ),
        "note_directed": (
            "Directed towards employment: a placement of any kind but 'other' (durable "
            "employment, transitional employment, positive exit: the IAE classes)."
        ),
        "note_people_reached": (
            "People reached = enrolled + anonymous attendees of collective workshops (the "
            "headcount of people not enrolled given for each collective session, the latest "
            "one; without identity, someone who came anonymously to two workshops counts "
            "twice). Anonymous attendees count in the session's association and district; "
            "they have no gender, age or track."
        ),
        "note_rates": (
            "Training rate = trained / enrolled; attended = attended / enrolled; share = share "
            "of the column's total."
        ),
        "note_track": (
            "Track: a person may follow both tracks; the rows overlap and the total counts "
            "each person once."
        ),
        "note_periods": (
            "Cohort: the month of enrolment, and what those people reached since. By month: the "
            "month each stage was reached (enrolment, first session, trained, directed)."
        ),
        "note_unknown": "Unknown: a fact received before the person's enrolment.",
        "note_baseline": (
            "Actual = baseline (results before the platform) + what the platform counted."
        ),
        "note_women_target": (
            "Target share of women in the digital careers track: {goal} (see the table of that "
            "track by gender)."
        ),
        "note_names_missing": (
            "Some districts or associations have no name known to reporting yet: they are "
            "shown by their ids."
        ),
    },
}

NOT_COMPUTABLE = "—"


def label(key: str, lang: Lang = "fr") -> str:
    """The text for ``key`` in ``lang``; text that is not a key is returned unchanged."""
    return LABELS[lang].get(key, key)


def format_count(cell: Cell, lang: Lang = "fr") -> str:
    if cell is None:
        return ""
    if isinstance(cell, Masked):
        return cell.value
    text = f"{cell:,}"
    return text.replace(",", "\u00a0") if lang == "fr" else text


def format_rate(rate: RateCell, lang: Lang = "fr") -> str:
    if rate is None:
        return NOT_COMPUTABLE
    if isinstance(rate, Masked):
        return rate.value
    text = f"{rate * 100:.1f}"
    return text.replace(".", ",") + "\u00a0%" if lang == "fr" else text + "%"


def format_date(moment: date, lang: Lang = "fr") -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")
    return moment.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d")


def header(table: Table, lang: Lang) -> list[str]:
    return [
        label(table.dimension, lang),
        *(label(column, lang) for column in table.columns),
        *(f"{label(rate.label, lang)} (%)" for rate in table.rates),
    ]


def table_rows(table: Table) -> Iterator[tuple[str, tuple[Cell, ...], tuple[RateCell, ...]]]:
    for row in (*table.rows, *((table.total,) if table.total else ())):
        row_label = "total" if row is table.total else row.label
        yield row_label, row.counts, table.rate_cells(row)


def legend(report: ImpactReport, lang: Lang) -> list[str]:
    lines = [label("legend_small", lang), label("legend_secondary", lang)]
    return [*(lines if report.suppressed else []), label("legend_na", lang)]


def escaped(text: str) -> str:
    return escape(text, quote=True)


def header_cells_html(table: Table, lang: Lang) -> list[str]:
    return [
        label(table.dimension, lang),
        *(label(c, lang) for c in table.columns),
        *(label(r.label, lang) for r in table.rates),
    ]


def colon(lang: Lang) -> str:
    return "\u00a0: " if lang == "fr" else ": "


def meta_lines(report: ImpactReport, lang: Lang) -> list[str]:
    """What the report is about, under its title: the scope, the period covered, when the
    figures were taken (and when they last moved), and that they are anonymised when so."""
    taken = format_date(report.generated_at, lang)
    zone = report.generated_at.tzname() if report.generated_at.tzinfo else None
    lines = [f"{label('scope', lang)}{colon(lang)}{label(report.scope_label, lang)}"]
    if report.period:
        lines.append(f"{label('period', lang)}{colon(lang)}{report.period}")
    lines.append(
        f"{label('generated_at', lang)} {taken}{f' ({zone})' if zone else ''} · {report.freshness}"
    )
    if report.suppressed:
        lines.append(label("anonymised_figures", lang))
    return lines
