"""The manuscript's generated tables, sentences and variables, one module per part of the paper.

Every number the manuscript states comes from here (or from a figure): the ``.qmd`` only includes
these files and quotes these variables, all computed from DVC outputs."""
