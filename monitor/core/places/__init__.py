"""The gazetteer: regions, districts, towns and schools, and matching them in text."""
