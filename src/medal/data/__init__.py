"""The data: where each dataset comes from (sources), its canonical form, and the features the learners see."""
