"""Pure mail helpers that both the converter (reading) and the replier (writing) need."""
