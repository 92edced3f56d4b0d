"""`monitor demo`: a generated world of fictional brands, and the whole product run on it offline."""
