// (filled in by the replica work)
