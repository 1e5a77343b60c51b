package report

// ProofLine exposes proofLine to the black-box tests.
var ProofLine = proofLine
