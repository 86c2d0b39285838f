"""Generated demo enrolments, sent through the gateway as association staff would.

Names are drawn at random from lists of common French first and last names, so no real
person is described; the platform's own rules (association serves district…) still apply.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

FIRST_NAMES = {
    "FEMALE": [
        "Amina",
        "Camille",
        "Fatou",
        "Inès",
        "Léa",
        "Manon",
        "Nadia",
        "Sarah",
        "Yasmine",
        "Chloé",
        "Aïcha",
        "Julie",
        "Emma",
        "Louise",
        "Jade",
        "Mariam",
        "Khadija",
        "Sofia",
        "Leïla",
        "Anaïs",
        "Clara",
        "Océane",
        "Awa",
        "Hawa",
        "Salma",
        "Lina",
        "Mélissa",
        "Rose",
        "Zoé",
        "Nora",
        "Pauline",
        "Sandrine",
        "Nathalie",
        "Isabelle",
        "Fatima",
        "Kenza",
        "Maëlle",
        "Elif",
        "Thi Lan",
        "Ana",
    ],
    "MALE": [
        "Adam",
        "Hugo",
        "Karim",
        "Lucas",
        "Mamadou",
        "Nathan",
        "Omar",
        "Rayan",
        "Théo",
        "Youssef",
        "Louis",
        "Bilal",
        "Gabriel",
        "Jules",
        "Mohamed",
        "Ibrahim",
        "Moussa",
        "Samir",
        "Mehdi",
        "Thomas",
        "Nicolas",
        "Julien",
        "Antoine",
        "Yanis",
        "Ilyes",
        "Sofiane",
        "Amadou",
        "Ousmane",
        "Kevin",
        "Damien",
        "Patrick",
        "Jean-Pierre",
        "Ali",
        "Emre",
        "Minh",
        "Paulo",
        "Ayoub",
        "Malik",
    ],
    "NON_BINARY": ["Alex", "Charlie", "Sacha", "Eden", "Noa", "Andrea"],
    "UNDISCLOSED": ["Dominique", "Claude", "Camille", "Morgan", "Lou"],
}
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Diallo",
    "Benali",
    "Dubois",
    "Traoré",
    "Moreau",
    "Nguyen",
    "Lefebvre",
    "Garcia",
    "Mendy",
    "Rousseau",
    "Haddad",
    "Fontaine",
    "Da Silva",
    "Petit",
    "Durand",
    "Leroy",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Girard",
    "André",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Guerin",
    "Boyer",
    "Chevalier",
    "Robin",
    "Sanchez",
    "Lopez",
    "Fernandes",
    "Pereira",
    "Ferreira",
    "Rodrigues",
    "Cissé",
    "Koné",
    "Camara",
    "Sylla",
    "Sow",
    "Ba",
    "Ndiaye",
    "Diop",
    "Fofana",
    "Keita",
    "Bouzid",
    "Mansouri",
    "Amrani",
    "Cherif",
    "Belkacem",
    "Saidi",
    "Yilmaz",
    "Kaya",
    "Tran",
    "Pham",
    "Le Goff",
    "Lacoste",
    "Etcheverry",
    "Dufour",
    "Blanc",
    "Garnier",
    "Faure",
    "Renaud",
    "Aubert",
    "Barbier",
    "Marchand",
    "Lemoine",
    "Perrin",
    "Clément",
    "Gauthier",
    "Meunier",
]
EMPLOYMENT = [
    "REGISTERED_JOB_SEEKER",
    "UNEMPLOYED_NOT_REGISTERED",
    "EMPLOYED",
    "IN_EDUCATION",
    "RETIRED",
    "INACTIVE",
]

ENROL = (
    """mutation Enrol($input: EnrolBeneficiaryInput!) { enrolBeneficiary(input: $input) { id } }"""
)
ASSOCIATIONS = "{ associations { id districts { id } } }"


def demo_enrolment(rng: random.Random, association: dict[str, Any]) -> dict[str, Any]:
    gender = rng.choices(list(FIRST_NAMES), weights=[52, 42, 3, 3])[0]
    careers = rng.random() < 0.3
    return {
        "associationId": association["id"],
        "districtId": rng.choice(association["districts"])["id"],
        "firstName": rng.choice(FIRST_NAMES[gender]),
        "lastName": rng.choice(LAST_NAMES),
        "birthYear": rng.randint(1950, 2008),
        "gender": gender,
        "tracks": ["DIGITAL_INCLUSION", "DIGITAL_CAREERS"] if careers else ["DIGITAL_INCLUSION"],
        "employmentStatus": rng.choice(EMPLOYMENT),
        "consent": {
            "programmeFollowUp": True,
            "shareWithPartners": rng.random() < 0.7,
            "contactForSurveys": rng.random() < 0.5,
        },
    }


def seed(gateway_url: str, token: str, count: int = 40, seed_value: int = 2026) -> int:
    """Enrol ``count`` generated residents; returns how many were accepted."""
    rng = random.Random(seed_value)
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10.0) as client:
        answer = client.post("/graphql", json={"query": ASSOCIATIONS}).json()
        associations = answer["data"]["associations"]
        accepted = 0
        for _ in range(count):
            variables = {"input": demo_enrolment(rng, rng.choice(associations))}
            result = client.post("/graphql", json={"query": ENROL, "variables": variables}).json()
            accepted += 0 if result.get("errors") else 1
    return accepted
