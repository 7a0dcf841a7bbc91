# SPDX-License-Identifier: MIT
# plot.gp - CPU per call vs offered load, the four systems of bench/compare (run in the results
# dir: reads plot.dat written by summarize.py, writes cpu_per_call.png).
# plot.dat blocks (index): 0 mara-auth, 1 kamailio-auth, 2 mara-fwd, 3 kamailio-fwd;
# columns: offered calls/s, total µs per call (mara-auth: mara-proxy + mara-aaa), proxy only.
set terminal pngcairo size 1000,620 font "sans,11"
set output "cpu_per_call.png"
set encoding utf8
if (!exists("gen")) gen = "sipp"
set title sprintf("CPU per completed call vs offered load (median of runs; loopback, generator %s)", gen)
set xlabel "offered load (calls/s)"
set ylabel "CPU per call (µs, utime+stime of all proxy processes)"
set key outside right top vertical
set grid
set yrange [0:*]
set offsets graph 0.05, graph 0.05, graph 0.05, 0
plot "plot.dat" index 0 using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "mara-proxy + mara-aaa (auth)", \
     ""         index 0 using 1:3 with linespoints lw 1 dt 2 pt 6 lc rgb "#1f77b4" title "mara-proxy alone (auth)", \
     ""         index 1 using 1:2 with linespoints lw 2 pt 5 lc rgb "#d62728" title "Kamailio (auth)", \
     ""         index 2 using 1:2 with linespoints lw 2 pt 9 lc rgb "#2ca02c" title "mara-proxy (forward)", \
     ""         index 3 using 1:2 with linespoints lw 2 pt 11 lc rgb "#ff7f0e" title "Kamailio (forward)"
