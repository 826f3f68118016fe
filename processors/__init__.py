"""Stream processors: pure aggregate, score, baseline and regression functions and their faust shell."""
