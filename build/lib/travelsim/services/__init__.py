"""Use cases (catalogue, provisioning, payments, ...). No Reflex imports."""
