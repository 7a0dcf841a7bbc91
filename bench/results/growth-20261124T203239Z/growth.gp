set terminal pngcairo size 1200,1980 font ',9'
set output 'bench/results/growth-20261124T203239Z/growth.png'
set multiplot layout 6,1
set datafile separator ','
set key outside right noenhanced
set grid
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
unset logscale x
set xlabel 'proxy threads (shards)' noenhanced; set title 'shards' noenhanced
plot 'bench/results/growth-20261124T203239Z/shards.csv' every ::1 using 1:2 axes x1y1 with linespoints title 'calls/s'
set logscale x
set xlabel 'calls up at once' noenhanced; set title 'concurrency' noenhanced
plot 'bench/results/growth-20261124T203239Z/concurrency.csv' every ::1 using 1:6 axes x1y1 with linespoints title 'proxy CPU us/call', 'bench/results/growth-20261124T203239Z/concurrency.csv' every ::1 using 1:($8/1024) axes x1y2 with linespoints title 'proxy RSS MiB (right axis)'
set logscale x
set xlabel 'users in the store' noenhanced; set title 'users' noenhanced
plot 'bench/results/growth-20261124T203239Z/users.csv' every ::1 using 1:($3/1024) axes x1y1 with linespoints title 'mara-aaa RSS MiB', 'bench/results/growth-20261124T203239Z/users.csv' every ::1 using 1:4 axes x1y2 with linespoints title 'MAR/s (right axis)'
unset logscale x
set xlabel 'added AAA round trip (ms)' noenhanced; set title 'delay' noenhanced
plot 'bench/results/growth-20261124T203239Z/delay.csv' every ::1 using 2:3 axes x1y1 with linespoints title 'calls/s', 'bench/results/growth-20261124T203239Z/delay.csv' every ::1 using 2:5 axes x1y2 with linespoints title 'MARs in flight (right axis)'
unset logscale x
set xlabel 'batch_wait_us' noenhanced; set title 'batch' noenhanced
plot 'bench/results/growth-20261124T203239Z/batch.csv' every ::1 using 1:4 axes x1y1 with linespoints title 'proxy CPU us/call', 'bench/results/growth-20261124T203239Z/batch.csv' every ::1 using 1:8 axes x1y2 with linespoints title 'auth p99 ms (right axis)'
unset logscale x
set xlabel 'seconds into the soak' noenhanced; set title 'memory_soak' noenhanced
plot 'bench/results/growth-20261124T203239Z/memory_soak.csv' every ::1 using 1:($2/1024) axes x1y1 with linespoints title 'proxy RSS MiB'
unset multiplot
