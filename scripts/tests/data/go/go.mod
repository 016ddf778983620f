module racelab.test/hits

go 1.19
