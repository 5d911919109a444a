#!/usr/bin/env python3
"""A practical sequence-only reference for the omics acceptance benchmark: an L2 logistic
regression on hit counts of the *true* planted motifs (the JASPAR matrices the generator
sampled from), which a model has to discover instead. Per tissue and motif: hits at
score thresholds 0.55-0.9 of the best possible log-odds, in the window and in its 300 bp
flanks, the best score, and the most hits of either motif in any 300 bp span. Trained on
chr1-chr4, scored on chr6, like `omicsdb train` in scripts/acceptance_omics.sh.

  python3 scripts/acceptance_omics.py DIR --seed 7 --windows-tsv
  python3 scripts/acceptance_pwm_reference.py DIR
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acceptance_omics as A  # noqa: E402

d = sys.argv[1]
motifs = A.load_motifs(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "motifs", "synthetic_enhancers.jaspar"))
seqs={}; name=None
for line in open(d+'/genome.fa'):
    if line.startswith('>'): name=line[1:].strip(); seqs[name]=[]
    else: seqs[name].append(line.strip().upper())
code={c:i for i,c in enumerate('ACGT')}
ints={k:np.array([code.get(c,4) for c in ''.join(v)],dtype=np.int64) for k,v in seqs.items()}
def scan(x,m):
    lo=np.log(m/0.25); lo=np.vstack([lo.T,np.full((1,len(m)),-5.0)]).T  # N column
    rc=np.log(m[::-1,::-1]/0.25); rc=np.vstack([rc.T,np.full((1,len(m)),-5.0)]).T
    L=len(m); n=len(x)-L+1
    f=np.zeros(n); r=np.zeros(n)
    for j in range(L):
        f+=lo[j][x[j:j+n]]; r+=rc[j][x[j:j+n]]
    mx=np.log(m/0.25).max(1).sum()
    s=np.maximum(f,r)/mx
    return np.concatenate([s,np.full(L-1,-9)])
tissues={'liver':('HNF4A','CEBPA'),'blood':('GATA1','Spi1'),'muscle':('MYOD1','MEF2C')}
S={(c,m):scan(x,motifs[m]) for c,x in ints.items() for t in tissues for m in tissues[t]}
rows=[l.rstrip('\n').split('\t') for l in open(d+'/windows.tsv')]
hdr=rows[0]; rows=rows[1:]
ths=[0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9]
def feats(c,s,e,t):
    out=[]
    for m in tissues[t]:
        sc=S[(c,m)]
        core=sc[s:e]; fl=np.concatenate([sc[max(0,s-300):s],sc[e:e+300]])
        out+= [(core>=th).sum() for th in ths]+[(fl>=th).sum() for th in ths]+[core.max()]
    # best 300-bp span: sum of top hit scores of both motifs
    a=np.maximum(S[(c,tissues[t][0])],S[(c,tissues[t][1])])[max(0,s-150):e+150]
    h=(a>=0.7).astype(float); k=np.convolve(h,np.ones(300),'same')
    out+=[k.max()]
    h=(a>=0.6).astype(float); k=np.convolve(h,np.ones(300),'same'); out+=[k.max()]
    return out
def auroc(y,p):
    o=np.argsort(p); r=np.empty(len(p)); r[o]=np.arange(1,len(p)+1); n1=y.sum(); n0=len(y)-n1
    return (r[y].sum()-n1*(n1+1)/2)/(n1*n0)
for t in tissues:
    col=hdr.index(f'{t}_atac_peaks')
    X=[];Y=[];C=[]
    for r in rows:
        X.append(feats(r[0],int(r[1]),int(r[2]),t)); Y.append(float(r[col])>0.5); C.append(r[0])
    X=np.array(X,float); Y=np.array(Y); C=np.array(C)
    X=np.hstack([np.log1p(np.maximum(X,0)),np.ones((len(X),1))])
    tr=np.isin(C,['chr1','chr2','chr3','chr4']); te=C=='chr6'
    w=np.zeros(X.shape[1])
    for it in range(50):  # Newton, L2
        p=1/(1+np.exp(-X[tr]@w)); g=X[tr].T@(p-Y[tr])+1e-2*w
        H=(X[tr].T*(p*(1-p)))@X[tr]+1e-2*np.eye(len(w)); w-=np.linalg.solve(H,g)
    print(t,'PWM-feature logistic AUROC on chr6: %.3f (train %.3f)'%(auroc(Y[te],X[te]@w),auroc(Y[tr],X[tr]@w)))
