// Evaluation: WER, text normalisation, eval runs.
