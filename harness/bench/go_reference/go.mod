module racelab/bench/goreference

go 1.19
