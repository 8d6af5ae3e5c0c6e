"""assign-cat: assign catalog products to a (category, subcategory) of a taxonomy."""

USE_CASE = "assign-cat"
