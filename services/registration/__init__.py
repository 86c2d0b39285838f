"""Registration: beneficiaries, associations, districts, consent; sole holder of personal data."""
