# The registry this project is built against serves only linux packages, so npm leaves other platforms' optional
# binaries out of package-lock.json, and then `npm ci` refuses the lock as out of sync. This adds the missing entries
# (os/cpu-tagged, never installed here). Run after every `npm install`: python3 scripts/complete-lock.py package-lock.json
import json,re,sys
path=sys.argv[1]
l=json.load(open(path))
p=l['packages']
OS={'darwin':'darwin','linux':'linux','win32':'win32'}
CPU={'arm64':'arm64','x64':'x64','armv7':'arm','arm':'arm','aarch64':'arm64'}
added=[]
for key,entry in list(p.items()):
    for dep,ver in (entry.get('optionalDependencies') or {}).items():
        k='node_modules/'+dep
        if k in p: continue
        m=re.search(r'-(darwin|linux|win32)-(arm64|x64|armv7|arm|aarch64)$',dep)
        if not m: continue
        ne={'version':ver,'optional':True,'os':[OS[m.group(1)]],'cpu':[CPU[m.group(2)]]}
        if entry.get('dev'): ne['dev']=True
        p[k]=ne; added.append(dep)
l['packages']=dict(sorted(p.items(), key=lambda kv: (kv[0]!='', kv[0])))
json.dump(l,open(path,'w'),indent=2); open(path,'a').write('\n')
print('added',added)
