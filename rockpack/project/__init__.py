"""The project file: takes rockpack.yaml (or rockcraft.yaml), gives a validated Project model
with line-numbered errors; also the JSON Schema generated from the models."""
